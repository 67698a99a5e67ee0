"""KPI use cases: fold task events into the read model, and answer the KPIs from it.

A task counts in the month of its `created_at` (UTC in the counters; another zone's month is
corrected at its ends by `services/kpi/zoned.py`) while it is not deleted; a completion
counts in the month of its `completed_at`. Every event carries the whole task, so applying an
event replaces the task's stored state: its old contributions to the counters are taken out
and the new ones put in, whatever order the events arrive in.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from services.kpi import flow_repository, flow_service, repository, zoned
from services.kpi.models import (
    UNASSIGNED,
    DueCounter,
    DueDayCounter,
    MonthCounter,
    user_directory,
)
from services.kpi.repository import DueDayKey, DueKey, MonthKey, StoredState
from services.kpi.schemas import (
    ByUserKpi,
    CompletionRate,
    MonthlyKpi,
    MonthSpan,
    Trend,
)
from shared.contracts.events import TaskEvent, TaskEventType, TaskStatus
from shared.web.months import MonthRange

# The counters' status keys, as stored: plain strings, which a dict finds on its fast path (a
# `TaskStatus` member, a str subclass, takes the slow one).
_TODO, _IN_PROGRESS, _DONE = (
    TaskStatus.TODO.value,
    TaskStatus.IN_PROGRESS.value,
    TaskStatus.DONE.value,
)


class _Deltas:
    """Changes to the counters from one event, netted per row."""

    def __init__(self) -> None:
        self.months: defaultdict[MonthKey, int] = defaultdict(int)
        self.due: defaultdict[DueKey, int] = defaultdict(int)
        self.due_days: defaultdict[DueDayKey, int] = defaultdict(int)
        self.completions: dict[date, tuple[int, float]] = {}

    def add(self, state: StoredState, *, sign: int) -> None:
        """Add (`sign` 1) or take out (`sign` -1) what `state` contributes."""
        if state.deleted:
            return
        assignee_key = state.assignee_id if state.assignee_id is not None else UNASSIGNED
        created_in = month_of(state.created_at)
        self.months[(created_in, assignee_key, state.status)] += sign
        if state.status != TaskStatus.DONE and state.due_date is not None:
            due_hour = repository.hour_of(state.due_date)
            self.due[(created_in, due_hour)] += sign
            self.due_days[(created_in, due_hour.date())] += sign
        if state.status == TaskStatus.DONE and state.completed_at is not None:
            month = month_of(state.completed_at)
            seconds = (state.completed_at - state.created_at).total_seconds()
            completed, total = self.completions.get(month, (0, 0.0))
            self.completions[month] = (completed + sign, total + sign * seconds)

    def apply(self, session: Session) -> None:
        """Write the rows that changed, in key order (so concurrent consumers cannot deadlock)."""
        if self.due:
            # Until the contract revision 0008 drops it, a trigger adds the due-hour changes of
            # the release before to the day rows; this transaction writes them itself.
            session.execute(_WRITES_DUE_DAYS)
        counted: list[tuple[repository.Counter, dict[Any, int]]] = [
            (MonthCounter, self.months),
            (DueCounter, self.due),
            (DueDayCounter, self.due_days),
        ]
        for counter, deltas in counted:
            for key, delta in sorted(deltas.items()):
                if delta:
                    repository.add_to_counter(session, counter, key=key, delta=delta)
        for month, (completed, seconds) in sorted(self.completions.items()):
            if (completed, seconds) != (0, 0.0):
                repository.add_to_completion_counter(
                    session, month=month, completed=completed, seconds=seconds
                )


_WRITES_DUE_DAYS = text("SELECT set_config('kpi.writes_due_days', 'on', true)")


def month_of(moment: datetime) -> date:
    """The first day of the UTC month of `moment`."""
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def apply_event(session: Session, *, event: TaskEvent) -> bool:
    """Fold one event into the read model; False when a newer version is already applied.

    Does not commit: the consumer commits it together with the event's id.
    """
    return not apply_events(session, events=[event])


def apply_events(session: Session, *, events: Sequence[TaskEvent]) -> list[TaskEvent]:
    """Fold events into the read model, in order; the ones a newer version had superseded.

    The batch costs a few statements whatever its size: the tasks' states are locked together,
    the events applied to them in memory, and each counter row written once, with the batch's
    net change. Does not commit: the consumer commits it together with the events' ids.
    """
    tasks = {event.task.id: event.task for event in events}
    repository.ensure_task_states(session, tasks=list(tasks.values()))
    states = repository.lock_task_states(session, task_ids=sorted(tasks))
    deltas, superseded, changed = _Deltas(), [], {}
    for event in events:
        state = states[event.task.id]
        if event.version <= state.version:
            superseded.append(event)
            continue
        deltas.add(state, sign=-1)
        _store(state, event)
        deltas.add(state, sign=1)
        changed[state.task_id] = state
    repository.save_task_states(session, states=list(changed.values()))
    deltas.apply(session)
    # Every version goes into the flow history, a superseded one too: history is a set.
    flow_service.apply_events(session, events=events)
    return superseded


def _store(state: StoredState, event: TaskEvent) -> None:
    """The task as the event leaves it; a delete keeps it as a tombstone."""
    task = event.task
    state.version = event.version
    state.deleted = event.event_type is TaskEventType.DELETED
    state.status = task.status.value
    state.assignee_id = task.assignee_id
    state.created_at = task.created_at
    state.due_date = task.due_date
    state.completed_at = task.completed_at


def completion_rate(connection: Connection, *, month: MonthRange) -> CompletionRate:
    """Tasks created in `month`, how many are done, and the share done."""
    first = date(month.year, month.month, 1)
    counts = repository.status_counts_by_month(connection, first=first, last=first).get(first, {})
    if not month.utc_aligned:
        counts = zoned.status_counts(connection, months=[month], counts=[counts])[0]
    total, done = sum(counts.values()), counts.get(_DONE, 0)
    return CompletionRate(
        year=month.year,
        month=month.month,
        total_tasks=total,
        completed_tasks=done,
        completion_rate=_rate(done, total),
    )


def by_user(connection: Connection, *, month: MonthRange) -> ByUserKpi:
    """Per assignee (by id, the unassigned last): tasks created in `month` by status, with the
    usernames of the directory (`None` for a user whose events have not arrived yet)."""
    counts: Counter[tuple[int, str]] = Counter()
    names: dict[int, str | None] = {}
    rows = repository.status_counts_by_assignee(
        connection, month=date(month.year, month.month, 1), users=user_directory
    )
    for key, username, status, count in rows:
        counts[(key, status)] = count
        names[key] = username
    if not month.utc_aligned:
        counts = zoned.assignee_counts(connection, months=[month], counts=[counts])[0]
        missing = [key for key, _ in counts if key not in names]
        names.update(flow_repository.usernames(connection, users=user_directory, user_ids=missing))
    by_key: dict[int, dict[str, int]] = {}
    for (key, status), count in counts.items():
        if count:
            by_key.setdefault(key, {})[status] = count
    items = [
        _user_kpi(key, None if key == UNASSIGNED else names.get(key), by_key[key])
        for key in sorted(by_key, key=lambda key: (key == UNASSIGNED, key))
    ]
    # The items as dicts: one validation.
    return ByUserKpi.model_validate({"year": month.year, "month": month.month, "items": items})


def _user_kpi(key: int, username: str | None, by_status: dict[str, int]) -> dict[str, Any]:
    """`UserKpi`'s fields."""
    total, done = sum(by_status.values()), by_status.get(_DONE, 0)
    return {
        "assignee_id": None if key == UNASSIGNED else key,
        "username": username,
        "total": total,
        "done": done,
        "in_progress": by_status.get(_IN_PROGRESS, 0),
        "todo": by_status.get(_TODO, 0),
        "completion_rate": _rate(done, total),
    }


def monthly(
    connection: Connection, *, month: MonthRange, now: datetime | None = None
) -> MonthlyKpi:
    """Tasks created in `month` by status and overdue; completions in `month`, mean time."""
    now = now or datetime.now(UTC)
    utc = MonthRange.of(month.year, month.month)
    totals = repository.month_totals(
        connection, month=utc.start.date(), start=utc.start, end=utc.end, now=now
    )
    counts, overdue = totals.by_status, totals.overdue
    completed, seconds = totals.completed, totals.completed_seconds
    if not month.utc_aligned:
        counts = zoned.status_counts(connection, months=[month], counts=[counts])[0]
        [(completed, seconds)] = zoned.completions(
            connection, months=[month], counts=[(completed, seconds)]
        )
        overdue += zoned.overdue(connection, month=month, now=now)
    return MonthlyKpi(
        year=month.year,
        month=month.month,
        total=sum(counts.values()),
        todo=counts.get(_TODO, 0),
        in_progress=counts.get(_IN_PROGRESS, 0),
        done=counts.get(_DONE, 0),
        completed_in_month=completed,
        overdue=overdue,
        avg_completion_seconds=seconds / completed if completed else None,
    )


def trend(connection: Connection, *, span: MonthSpan) -> Trend:
    """One point per month of `span`, months without tasks included (zeros)."""
    counts, done_in = repository.month_series(connection, first=span.first, last=span.last)
    firsts = list(span.months())
    by_status = [counts.get(first, {}) for first in firsts]
    completions = [done_in.get(first, (0, 0.0)) for first in firsts]
    if span.tz != "UTC":  # another zone's months may need their ends corrected
        months = [MonthRange.of(first.year, first.month, span.tz) for first in firsts]
        if not all(month.utc_aligned for month in months):
            by_status = zoned.status_counts(connection, months=months, counts=by_status)
            completions = zoned.completions(connection, months=months, counts=completions)
    points = []
    for month, statuses, (completed, _) in zip(firsts, by_status, completions, strict=True):
        total, done = sum(statuses.values()), statuses.get(_DONE, 0)
        points.append(
            {
                "year": month.year,
                "month": month.month,
                "total": total,
                "todo": statuses.get(_TODO, 0),
                "in_progress": statuses.get(_IN_PROGRESS, 0),
                "done": done,
                "completed_in_month": completed,
                "completion_rate": _rate(done, total),
            }
        )
    return Trend.model_validate({"items": points})  # the points as dicts: one validation


def _rate(done: int, total: int) -> float:
    return done / total if total else 0.0
