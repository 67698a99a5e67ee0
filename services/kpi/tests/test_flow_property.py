"""Flow metrics of random histories, delivered out of order and with duplicates, in batches,
through the consumer's real apply path, must equal a recount from the tasks' histories.

The recount works from each task's events alone, in docs/api.md's words: a version moves the
task into its status at its time (a task imported as done is todo until its completion), and
moments never go back (a change dated before the one before it moves the task at that one's
moment); the start is the first move into in_progress, the completion the last move into done
if the task is done, credited to the assignee of the version that made it done (reassigning a
done task moves nothing); a deleted task counts nowhere. Percentiles are within the
histogram's 1%.

The histories hold imports (created in any status, done ones completed later than created),
reassignments before and after completion, reopens, deletes, and changes dated before the
change before them: the tasks service refuses those now, but its older releases published them,
and a replay delivers them again.
"""

import math
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.kpi import flow_service
from services.kpi.flow_schemas import CompletedTask, FlowWindow, Per, TimeStats
from services.kpi.models import TASK_TABLES
from services.kpi.tests.factories import create_event, create_next_event
from shared.contracts.events import TaskEvent, TaskEventType, TaskStatus
from shared.messaging.consumer import EventConsumer
from shared.web.pagination import PageParams

START = datetime(2025, 3, 1, tzinfo=UTC)  # the month of DST starts in St_Johns and Berlin
ZONES = ["UTC", "Asia/Kathmandu", "America/St_Johns", "Europe/Berlin"]
ASSIGNEES = [None, 1, 2]
STEPS = [*["in_progress", "done", "todo", "in_progress", "done", "assign"] * 2, "delete"]
NOW = datetime(2025, 6, 1, tzinfo=UTC)

task_plans = st.tuples(
    st.integers(0, 30 * 24 * 4),  # created, in quarter hours after START
    st.sampled_from(list(TaskStatus)),
    st.sampled_from(ASSIGNEES),
    st.integers(0, 3 * 24 * 60),  # an import as done: minutes to its completion
    st.lists(
        st.tuples(
            st.integers(1, 3 * 24 * 60),  # minutes after the change before (or the completion)
            st.sampled_from(STEPS),
            st.sampled_from(ASSIGNEES),
            st.sampled_from([0, 0, 0, 1, 3]),  # 0: after the change before; else that many
            # days earlier, minus the minutes: before it, or between an import and its completion
        ),
        max_size=6,
    ),
)


def history(task_id: int, plan: tuple[Any, ...]) -> list[TaskEvent]:
    """The events of one task's plan, as the tasks service would publish them."""
    created, status, assignee, to_done, steps = plan
    at = START + timedelta(minutes=15 * created, seconds=task_id)
    done_at = at + timedelta(minutes=to_done) if status is TaskStatus.DONE else None
    events = [
        create_event(
            task_id=task_id,
            status=status,
            assignee_id=assignee,
            created_at=at,
            completed_at=done_at,
        )
    ]
    for minutes, step, who, past in steps:
        if past == 0:
            at = max(at, done_at or at) + timedelta(minutes=minutes)
        else:
            at = events[-1].occurred_at - timedelta(days=past) + timedelta(minutes=minutes)
        if step == "delete":
            events.append(create_next_event(after=events[-1], deleted=True, at=at))
            break
        change = {"assignee_id": who} if step == "assign" else {"status": TaskStatus(step)}
        events.append(create_next_event(after=events[-1], at=at, **change))
    return events


def moves(events: list[TaskEvent]) -> list[tuple[datetime, str]] | None:
    """(moment, status entered) of a task, in order; None when deleted."""
    if any(event.event_type is TaskEventType.DELETED for event in events):
        return None
    found: list[tuple[datetime, str]] = []
    ordered = sorted(events, key=lambda event: event.version)
    moment = ordered[0].occurred_at
    for event in ordered:
        moment = max(moment, event.occurred_at)  # no earlier than any version before it
        task = task_of(event)
        entering_done = task.status is TaskStatus.DONE and (not found or found[-1][1] != "done")
        if entering_done and task.completed_at and task.completed_at > moment:
            if not found:
                found.append((moment, "todo"))
            moment = task.completed_at
        if not found or found[-1][1] != task.status.value:
            found.append((moment, task.status.value))
    return found


def in_order(events: list[TaskEvent]) -> bool:
    """No change dated before an earlier version's time or completion (what the tasks service
    accepts today)."""
    latest = None
    for event in sorted(events, key=lambda event: event.version):
        if latest is not None and event.occurred_at < latest:
            return False
        latest = max(event.occurred_at, event.task.completed_at or event.occurred_at)
    return True


def assignee_at_completion(events: list[TaskEvent]) -> int | None:
    """The assignee of the version that made the task done, the last time it became done."""
    status, assignee = None, None
    for event in sorted(events, key=lambda event: event.version):
        if event.task.status is TaskStatus.DONE and status is not TaskStatus.DONE:
            assignee = event.task.assignee_id
        status = event.task.status
    return assignee


def task_of(event: TaskEvent) -> Any:
    return event.task


def window_of(tz: str, first: int, days: int) -> FlowWindow:
    first_day = date(2025, 3, 1) + timedelta(days=first)
    return FlowWindow(first=first_day, last=first_day + timedelta(days=days - 1), tz=tz)


def completed(tasks: list[list[TaskEvent]], window: FlowWindow) -> list[dict[str, Any]]:
    """The tasks completed in the window: their assignee, lead and cycle time."""
    found = []
    for events in tasks:
        path = moves(events)
        if not path or path[-1][1] != "done":
            continue
        done_at = path[-1][0]
        if not window.start <= done_at < window.end:
            continue
        last = max(events, key=lambda event: event.version).task
        starts = [at for at, status in path if status == "in_progress"]
        found.append(
            {
                "task_id": last.id,
                "assignee": assignee_at_completion(events),
                "lead": max(0.0, (done_at - last.created_at).total_seconds()),
                "cycle": (done_at - starts[0]).total_seconds() if starts else None,
                "at": done_at,
                "in_order": in_order(events),
                "task_completed_at": last.completed_at,
            }
        )
    return found


def assert_stats(answer: TimeStats, values: list[float]) -> None:
    """Count, mean exactly; nearest-rank percentiles within 1% (or 1 s under a second)."""
    assert answer.count == len(values)
    if not values:
        assert answer.mean_seconds is None
        return
    assert answer.mean_seconds == pytest.approx(sum(values) / len(values), rel=1e-9, abs=1e-6)
    ordered = sorted(values)
    for percentile, got in (
        (50, answer.p50_seconds),
        (85, answer.p85_seconds),
        (95, answer.p95_seconds),
    ):
        exact = ordered[math.ceil(percentile * len(values) / 100) - 1]
        assert got is not None
        assert abs(got - exact) <= 0.01 * exact + (1.0 if exact < 1 else 1e-6), percentile


def status_at(path: list[tuple[datetime, str]] | None, moment: datetime) -> str | None:
    if path is None:
        return None
    before = [status for at, status in path if at < moment]
    return before[-1] if before else None


def assert_metrics(session: Session, tasks: list[list[TaskEvent]], window: FlowWindow) -> None:
    done = completed(tasks, window)
    times = flow_service.times(session, window=window, by_assignee=True)
    assert_stats(times.lead, [task["lead"] for task in done])
    assert_stats(times.cycle, [task["cycle"] for task in done if task["cycle"] is not None])
    assert times.by_assignee is not None
    for item in times.by_assignee:
        mine = [task for task in done if task["assignee"] == item.assignee_id]
        assert_stats(item.lead, [task["lead"] for task in mine])
    assert sum(item.lead.count for item in times.by_assignee) == len(done)

    listed = [
        (item.task_id, item.assignee_id, item.completed_at, item.lead_seconds, item.cycle_seconds)
        for item in all_completions(session, window)
    ]
    assert listed == [
        (task["task_id"], task["assignee"], task["at"], task["lead"], task["cycle"])
        for task in sorted(done, key=lambda task: (task["at"], task["task_id"]))
    ]

    # A history the tasks service accepts today is completed when the task says it is (what
    # /kpi/monthly counts by).
    assert all(task["at"] == task["task_completed_at"] for task in done if task["in_order"])

    zone = ZoneInfo(window.tz)
    for per in Per:
        periods = flow_service.throughput(session, window=window, per=per.value).items
        for period in periods:
            local = [task["at"].astimezone(zone).date() for task in done]
            assert period.completed == sum(period.start <= day <= period.end for day in local)
        assert sum(period.completed for period in periods) == len(done)

    paths = [moves(events) for events in tasks]
    flow = flow_service.cumulative_flow(session, window=window).items
    wip = flow_service.work_in_progress(session, window=window).items
    for day, point, wip_day in zip(window.days(), flow, wip, strict=True):
        counts = Counter(status_at(path, day[2]) for path in paths)
        assert (point.todo, point.in_progress, point.done) == (
            counts["todo"],
            counts["in_progress"],
            counts["done"],
        ), day
        assert wip_day.in_progress == counts["in_progress"]

    ageing = flow_service.ageing(session, window=window, now=NOW)
    assert ageing.threshold_seconds == times.cycle.p85_seconds
    if ageing.threshold_seconds is not None:
        expected = sorted(
            events[0].task_id
            for events, path in zip(tasks, paths, strict=True)
            if path
            and path[-1][1] == "in_progress"
            and (NOW - next(at for at, s in path if s == "in_progress")).total_seconds()
            > ageing.threshold_seconds
        )
        assert sorted(item.task_id for item in ageing.items) == expected


def all_completions(session: Session, window: FlowWindow) -> list[CompletedTask]:
    """Every page of the window's completions, three to a page, followed by their cursors."""
    items: list[CompletedTask] = []
    params = PageParams(page_size=3)
    while True:
        page = flow_service.completions(session, window=window, params=params)
        items += page.items
        if page.next_cursor is None:
            return items
        params = PageParams(page_size=3, cursor=page.next_cursor)


def deliveries(rng: random.Random, events: list[TaskEvent]) -> Iterator[list[TaskEvent]]:
    """The events shuffled, a fifth of them twice, in batches of random sizes."""
    order = events + [event for event in events if rng.random() < 0.2]
    rng.shuffle(order)
    while order:
        size = rng.randint(1, 25)
        yield order[:size]
        order = order[size:]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plans=st.lists(task_plans, min_size=4, max_size=15),
    rng=st.randoms(use_true_random=False),
    tz=st.sampled_from(ZONES),
    first=st.integers(0, 20),
    days=st.integers(15, 60),
)
def test_flow_metrics_equal_a_recount_whatever_the_delivery(
    consumer: EventConsumer[TaskEvent],
    connection: Connection,
    session: Session,
    plans: list[tuple[Any, ...]],
    rng: random.Random,
    tz: str,
    first: int,
    days: int,
) -> None:
    for table in TASK_TABLES:  # each example starts from an empty read model (all rolled back)
        connection.execute(text(f"DELETE FROM kpi.{table}"))
    tasks = [history(task_id, plan) for task_id, plan in enumerate(plans, start=1)]
    for batch in deliveries(rng, [event for events in tasks for event in events]):
        consumer.process_batch(batch)

    assert_metrics(session, tasks, window_of(tz, first, days))
