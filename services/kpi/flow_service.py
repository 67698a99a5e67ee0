"""Flow use cases: fold task events into the flow tables, and answer the flow metrics.

Every version of a task is kept (`task_history`); a batch recomputes its tasks' flows from their
whole sets of versions (`services/kpi/flow.py`) and adds the difference to the aggregates, so
any order of delivery, with any duplicates, ends in the same aggregates.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from services.kpi import flow_repository
from services.kpi.flow import CYCLE, LEAD, Contributions, Version, bin_value, flow_of
from services.kpi.flow_schemas import (
    AgeingTask,
    AgeingWork,
    AssigneeTimes,
    CompletedTask,
    CumulativeFlow,
    FlowDay,
    FlowTimes,
    FlowWindow,
    PeriodCount,
    Throughput,
    TimeStats,
    WipDay,
    WorkInProgress,
)
from services.kpi.models import UNASSIGNED, user_directory
from services.kpi.periods import ORIGIN, cover
from shared.contracts.events import TaskEvent, TaskEventType, TaskStatus
from shared.web.pagination import Keyset, ListQuery, Page, PageParams, paginate

PERCENTILES = (50, 85, 95)
AGEING_LIMIT = 500
Histogram = dict[int, tuple[int, float]]  # bin: (count, seconds)


def apply_events(session: Session, *, events: Sequence[TaskEvent]) -> None:
    """Store the events' versions and update their tasks' flows and the aggregates.

    The caller has locked the tasks (`repository.lock_task_states`), so no other batch changes
    their flows meanwhile. Does not commit.
    """
    task_ids = sorted({event.task_id for event in events})
    before = flow_repository.histories(session, task_ids=task_ids)
    credited = flow_repository.credited_assignees(session, task_ids=task_ids)
    known = {(task_id, v.version) for task_id, versions in before.items() for v in versions}
    fresh = {(e.task_id, e.version): e for e in events if (e.task_id, e.version) not in known}
    after = {task_id: list(before.get(task_id, [])) for task_id in task_ids}
    for (task_id, _), event in fresh.items():
        after[task_id].append(_version(event))
    contributions, flows = Contributions(), {}
    for task_id in task_ids:
        old, new = flow_of(before.get(task_id, [])), flow_of(after[task_id])
        if old is not None and task_id in credited:
            # Taken out where it was counted: a release before this one counted a completion
            # for the task's assignee of the time, not the one at completion.
            old = replace(old, assignee_id=credited[task_id])
        if old != new:
            contributions.add(old, sign=-1)
            contributions.add(new, sign=1)
            flows[task_id] = new
    rows = [{"task_id": task_id, **vars(_version(e))} for (task_id, _), e in fresh.items()]
    flow_repository.add_history(session, rows=rows)
    flow_repository.save_flows(session, flows=flows)
    flow_repository.add_status_deltas(session, deltas=contributions.statuses)
    flow_repository.add_completions(session, deltas=contributions.completions)


def _version(event: TaskEvent) -> Version:
    task = event.task
    return Version(
        version=event.version,
        occurred_at=event.occurred_at,
        status=task.status.value,
        assignee_id=task.assignee_id,
        created_at=task.created_at,
        completed_at=task.completed_at,
        deleted=event.event_type is TaskEventType.DELETED,
    )


def stats(histogram: Histogram) -> TimeStats:
    """Count, exact mean and nearest-rank percentiles (to the bin's precision) of a histogram."""
    count = sum(n for n, _ in histogram.values())
    if not count:
        return TimeStats(count=0)
    ranked, running, ranks = {}, 0, {p: -(-p * count // 100) for p in PERCENTILES}
    for index in sorted(histogram):
        running += histogram[index][0]
        for percentile, rank in ranks.items():
            if percentile not in ranked and running >= rank:
                ranked[percentile] = bin_value(index)
    return TimeStats(
        count=count,
        mean_seconds=sum(seconds for _, seconds in histogram.values()) / count,
        p50_seconds=ranked[50],
        p85_seconds=ranked[85],
        p95_seconds=ranked[95],
    )


def _histograms(
    session: Session, window: FlowWindow, *, by_assignee: bool
) -> dict[tuple[str, int], Histogram]:
    """{(measure, assignee key, or -1 for all): histogram} of the window's completions."""
    ranges = [(0, piece) for piece in cover(window.start, window.end)]
    rows = flow_repository.completion_bins(session, ranges=ranges, by_assignee=by_assignee)
    histograms: dict[tuple[str, int], Histogram] = {}
    for _, measure, assignee, index, count, seconds in rows:
        for key in {(measure, assignee), (measure, -1)}:
            histogram = histograms.setdefault(key, {})
            old_count, old_seconds = histogram.get(index, (0, 0.0))
            histogram[index] = (old_count + count, old_seconds + seconds)
    return histograms


def times(session: Session, *, window: FlowWindow, by_assignee: bool) -> FlowTimes:
    """Lead and cycle time of the tasks completed in the window, in all and per assignee."""
    histograms = _histograms(session, window, by_assignee=by_assignee)
    assignees = sorted({key for _, key in histograms if key != -1})
    names = flow_repository.usernames(
        session.connection(), users=user_directory, user_ids=assignees
    )
    per_assignee = [
        AssigneeTimes(
            assignee_id=None if key == UNASSIGNED else key,
            username=None if key == UNASSIGNED else names.get(key),
            cycle=stats(histograms.get((CYCLE, key), {})),
            lead=stats(histograms.get((LEAD, key), {})),
        )
        for key in sorted(assignees, key=lambda key: (key == UNASSIGNED, key))
    ]
    return FlowTimes(
        **window.info(),
        cycle=stats(histograms.get((CYCLE, -1), {})),
        lead=stats(histograms.get((LEAD, -1), {})),
        by_assignee=per_assignee if by_assignee else None,
    )


def throughput(session: Session, *, window: FlowWindow, per: str) -> Throughput:
    """Tasks completed in each day, week or month of the window (clipped to it)."""
    periods = window.periods(per)
    ranges = [
        (index, piece)
        for index, (_, _, start, end) in enumerate(periods)
        for piece in cover(start, end)
    ]
    counts = flow_repository.completion_counts(session, ranges=ranges, measure=LEAD)
    items = [
        PeriodCount(start=first, end=last, completed=counts.get(index, 0))
        for index, (first, last, _, _) in enumerate(periods)
    ]
    return Throughput(**window.info(), per=per, items=items)


def _daily_levels(session: Session, window: FlowWindow) -> list[tuple[FlowDay, dict[str, int]]]:
    """Each day of the window with the count of live tasks in each status at its end."""
    days = list(window.days())
    ranges = [(-1, piece) for piece in cover(ORIGIN, window.start)]
    ranges += [(i, piece) for i, (_, start, end) in enumerate(days) for piece in cover(start, end)]
    sums = flow_repository.status_sums(session, ranges=ranges)
    level = {status.value: sums.get(-1, {}).get(status.value, 0) for status in TaskStatus}
    result = []
    for index, (day, _, _) in enumerate(days):
        for status, delta in sums.get(index, {}).items():
            level[status] += delta
        result.append((FlowDay(day=day, **level), dict(level)))
    return result


def cumulative_flow(session: Session, *, window: FlowWindow) -> CumulativeFlow:
    """Per day of the window: how many live tasks were in each status at its end."""
    return CumulativeFlow(**window.info(), items=[day for day, _ in _daily_levels(session, window)])


def work_in_progress(session: Session, *, window: FlowWindow) -> WorkInProgress:
    """Per day of the window: how many live tasks were in progress at its end."""
    items = [
        WipDay(day=day.day, in_progress=level[TaskStatus.IN_PROGRESS])
        for day, level in _daily_levels(session, window)
    ]
    return WorkInProgress(**window.info(), items=items)


def ageing(session: Session, *, window: FlowWindow, now: datetime | None = None) -> AgeingWork:
    """Tasks in progress now for longer than the p85 cycle time of the window's completions."""
    now = now or datetime.now(UTC)
    threshold = stats(_histograms(session, window, by_assignee=False).get((CYCLE, -1), {}))
    if threshold.p85_seconds is None:
        return AgeingWork(**window.info(), as_of=now, threshold_seconds=None, items=[])
    if threshold.p85_seconds < (now - ORIGIN).total_seconds():
        moment = now - timedelta(seconds=threshold.p85_seconds)
        rows = flow_repository.started_before(session, moment=moment, limit=AGEING_LIMIT)
    else:  # longer than the calendar has had: no task can have been in progress that long
        rows = []
    items = [
        AgeingTask(
            task_id=task_id,
            assignee_id=assignee_id,
            started_at=started_at,
            age_seconds=(now - started_at).total_seconds(),
        )
        for task_id, assignee_id, started_at in rows
    ]
    return AgeingWork(
        **window.info(), as_of=now, threshold_seconds=threshold.p85_seconds, items=items
    )


def completions(session: Session, *, window: FlowWindow, params: PageParams) -> Page[CompletedTask]:
    """A page of the tasks completed in the window (done now), by completion, then id."""
    keyset = Keyset(
        flow_repository.completion_order(),
        descending=False,
        scope=f"completions:{window.start.isoformat()}:{window.end.isoformat()}",
    )
    query = ListQuery(
        flow_repository.completions_query(), {"start": window.start, "end": window.end}
    )
    return paginate(session, query, keyset=keyset, params=params, page_type=Page[CompletedTask])
