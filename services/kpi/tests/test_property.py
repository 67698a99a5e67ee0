"""Random histories, delivered with duplicates and out of order, must add up to a recount.

The recount here is written independently of the service: it takes the last event of each
task, drops the deleted ones, and counts from scratch.
"""

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from services.kpi.tests.conftest import Fetch
from services.kpi.tests.factories import (
    completion_counters,
    create_event,
    create_next_event,
    create_user,
    month_counters,
)
from shared.contracts.events import TaskEvent, TaskEventType, TaskSnapshot, TaskStatus
from shared.messaging.consumer import EventConsumer
from tests.events import event_body

START = datetime(2025, 1, 1, tzinfo=UTC)
MONTHS = [date(2025, month, 1) for month in range(1, 7)]
ASSIGNEES = [None, 1, 2, 3]
NAMES = {1: "ada", 2: "grace"}  # in the user directory; user 3's event has not arrived yet
STATUSES = list(TaskStatus)


def random_moment(rng: random.Random) -> datetime:
    """Mostly anywhere in January to March; sometimes the last second of a month."""
    if rng.random() < 0.15:
        return datetime(2025, rng.randint(2, 4), 1, tzinfo=UTC) - timedelta(seconds=1)
    return START + timedelta(seconds=rng.randint(0, 89 * 86400))


def random_history(rng: random.Random, task_id: int) -> list[TaskEvent]:
    """A create, then status changes (reopens too), reassignments, renames, maybe a delete."""
    events = [
        create_event(
            task_id=task_id,
            status=rng.choice(STATUSES),
            assignee_id=rng.choice(ASSIGNEES),
            created_at=random_moment(rng),
            due_date=rng.choice(
                [None, START + timedelta(days=40), datetime(2099, 1, 1, tzinfo=UTC)]
            ),
        )
    ]
    for _ in range(rng.randint(0, 6)):
        last = events[-1]
        at = last.occurred_at + timedelta(seconds=rng.randint(60, 40 * 86400))
        kind = rng.random()
        if kind < 0.1:
            events.append(create_next_event(after=last, deleted=True, at=at))
            break
        if kind < 0.55:
            events.append(create_next_event(after=last, at=at, status=rng.choice(STATUSES)))
        elif kind < 0.85:
            events.append(create_next_event(after=last, at=at, assignee_id=rng.choice(ASSIGNEES)))
        else:
            events.append(create_next_event(after=last, at=at, title=f"renamed {rng.random()}"))
    return events


def delivery(rng: random.Random, events: list[TaskEvent]) -> list[TaskEvent]:
    """In time order, then some events held back, some swapped, some delivered twice."""
    order = sorted(events, key=lambda event: event.occurred_at)
    for event in list(order):
        if rng.random() < 0.15:  # held back: may arrive after newer versions of its task
            position = order.index(event)
            order.pop(position)
            order.insert(rng.randint(position, len(order)), event)
    for index in range(len(order) - 1):
        if rng.random() < 0.3:
            other = min(len(order) - 1, index + rng.randint(1, 4))
            order[index], order[other] = order[other], order[index]
    for event in list(order):
        if rng.random() < 0.15:
            order.insert(rng.randint(0, len(order)), event)
    return order


def month_of(moment: datetime) -> date:
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def recount(final: list[TaskEvent]) -> tuple[dict[Any, int], dict[date, tuple[int, Any]]]:
    """The counter rows from scratch: live tasks by created month, completions by month done."""
    months: Counter[tuple[date, int, str]] = Counter()
    completions: dict[date, tuple[int, float]] = {}
    for task in live_tasks(final):
        months[(month_of(task.created_at), task.assignee_id or 0, task.status.value)] += 1
        if task.status is TaskStatus.DONE and task.completed_at is not None:
            month = month_of(task.completed_at)
            done, seconds = completions.get(month, (0, 0.0))
            spent = (task.completed_at - task.created_at).total_seconds()
            completions[month] = (done + 1, seconds + spent)
    approximate = {
        month: (done, pytest.approx(seconds, rel=1e-9, abs=1e-6))
        for month, (done, seconds) in completions.items()
    }
    return dict(months), approximate


def live_tasks(final: list[TaskEvent]) -> list[TaskSnapshot]:
    return [event.task for event in final if event.event_type is not TaskEventType.DELETED]


def completion_spans(final: list[TaskEvent], month: date) -> list[float]:
    """Seconds to completion of the live tasks completed in `month`."""
    return [
        (task.completed_at - task.created_at).total_seconds()
        for task in live_tasks(final)
        if task.status is TaskStatus.DONE
        and task.completed_at is not None
        and month_of(task.completed_at) == month
    ]


def expected_monthly(final: list[TaskEvent], month: date, now: datetime) -> dict[str, Any]:
    """`/kpi/monthly` for `month`, worked out from the final tasks."""
    created = [task for task in live_tasks(final) if month_of(task.created_at) == month]
    statuses = Counter(task.status.value for task in created)
    spans = completion_spans(final, month)
    overdue = [
        task
        for task in created
        if task.status is not TaskStatus.DONE and task.due_date is not None and task.due_date < now
    ]
    return {
        "year": month.year,
        "month": month.month,
        "total": len(created),
        **{status.value: statuses[status.value] for status in TaskStatus},
        "completed_in_month": len(spans),
        "overdue": len(overdue),
        "avg_completion_seconds": pytest.approx(sum(spans) / len(spans)) if spans else None,
    }


def expected_by_user(final: list[TaskEvent], month: date) -> list[dict[str, Any]]:
    """`/kpi/by-user` items for `month`: by assignee id, the unassigned last."""
    created = [task for task in live_tasks(final) if month_of(task.created_at) == month]
    assignees = sorted({task.assignee_id for task in created}, key=lambda a: (a is None, a or 0))
    items = []
    for assignee_id in assignees:
        statuses = Counter(t.status.value for t in created if t.assignee_id == assignee_id)
        total = sum(statuses.values())
        items.append(
            {
                "assignee_id": assignee_id,
                "username": None if assignee_id is None else NAMES.get(assignee_id),
                "total": total,
                **{status.value: statuses[status.value] for status in TaskStatus},
                "completion_rate": pytest.approx(statuses["done"] / total),
            }
        )
    return items


def assert_api_matches(fetch: Fetch, final: list[TaskEvent]) -> None:
    """Every KPI of every month agrees with the final tasks."""
    now = datetime.now(UTC)
    points = []
    for month in MONTHS:
        params = {"year": month.year, "month": month.month}
        monthly = expected_monthly(final, month, now)
        total, done = monthly["total"], monthly["done"]
        rate = pytest.approx(done / total if total else 0.0)
        assert fetch("/kpi/monthly", **params) == monthly
        assert fetch("/kpi/completion-rate", **params) == {
            **params,
            "total_tasks": total,
            "completed_tasks": done,
            "completion_rate": rate,
        }
        assert fetch("/kpi/by-user", **params)["items"] == expected_by_user(final, month)
        del monthly["overdue"], monthly["avg_completion_seconds"]
        points.append({**monthly, "completion_rate": rate})
    assert fetch("/kpi/trend", **{"from": "2025-01", "to": "2025-06"})["items"] == points


def random_histories(rng: random.Random, session: Session) -> list[list[TaskEvent]]:
    """40 tasks' histories, with the directory knowing their assignees' names."""
    for user_id, username in NAMES.items():
        create_user(session, user_id=user_id, username=username)
    return [random_history(rng, task_id) for task_id in range(1, 41)]


def assert_read_model_matches(
    session: Session, fetch: Fetch, histories: list[list[TaskEvent]]
) -> None:
    """The counters equal a recount of the final tasks, and so does every KPI."""
    final = [history[-1] for history in histories]
    assert (month_counters(session), completion_counters(session)) == recount(final)
    assert_api_matches(fetch, final)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6, 7, 8])
def test_random_histories_add_up_to_a_recount(
    consumer: EventConsumer[TaskEvent], session: Session, fetch: Fetch, seed: int
) -> None:
    rng = random.Random(seed)
    histories = random_histories(rng, session)

    for event in delivery(rng, [event for history in histories for event in history]):
        consumer.process(event_body(event))

    assert_read_model_matches(session, fetch, histories)


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_random_histories_applied_in_batches_add_up_to_a_recount(
    consumer: EventConsumer[TaskEvent], session: Session, fetch: Fetch, seed: int
) -> None:
    rng = random.Random(seed)
    histories = random_histories(rng, session)
    delivered = delivery(rng, [event for history in histories for event in history])

    # As the consumer takes what the prefetch delivered: batches of every size, in one
    # transaction each, several events of one task in the same batch.
    while delivered:
        size = rng.randint(1, 60)
        consumer.process_batch(delivered[:size])
        delivered = delivered[size:]

    assert_read_model_matches(session, fetch, histories)
