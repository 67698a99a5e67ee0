"""The read model under duplicated, reordered and crossing events (real PostgreSQL)."""

from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.kpi.models import UNASSIGNED
from services.kpi.tests.factories import (
    completion_counters,
    create_event,
    create_next_event,
    month_counters,
    task_state,
)
from shared.contracts.events import TaskEvent, TaskStatus
from shared.messaging.applying import Outcome
from shared.messaging.consumer import EventConsumer
from tests.events import event_body

MARCH = date(2025, 3, 1)
CREATED_AT = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
DONE_AT = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)  # one hour after creation


def deliver(consumer: EventConsumer[TaskEvent], *events: TaskEvent) -> list[Outcome]:
    return [consumer.process(event_body(event)) for event in events]


def history(task_id: int) -> tuple[TaskEvent, TaskEvent, TaskEvent]:
    """Created (todo, assignee 4), started (v2), done (v3, one hour after creation)."""
    created = create_event(task_id=task_id, assignee_id=4, created_at=CREATED_AT)
    started = create_next_event(after=created, status=TaskStatus.IN_PROGRESS)
    done = create_next_event(after=started, status=TaskStatus.DONE, at=DONE_AT)
    return created, started, done


def test_events_in_order_move_the_task_between_counters(
    consumer: EventConsumer[TaskEvent], session: Session
) -> None:
    created, started, done = history(task_id=1)

    deliver(consumer, created)
    assert month_counters(session) == {(MARCH, 4, "todo"): 1}
    deliver(consumer, started)
    assert month_counters(session) == {(MARCH, 4, "in_progress"): 1}
    assert completion_counters(session) == {}
    deliver(consumer, done)
    assert month_counters(session) == {(MARCH, 4, "done"): 1}
    assert completion_counters(session) == {MARCH: (1, 3600.0)}


def test_the_same_event_twice_changes_nothing(
    consumer: EventConsumer[TaskEvent], session: Session
) -> None:
    created, _, done = history(task_id=1)

    assert deliver(consumer, created, done, done) == [
        Outcome.APPLIED,
        Outcome.APPLIED,
        Outcome.DUPLICATE,
    ]
    assert month_counters(session) == {(MARCH, 4, "done"): 1}
    assert completion_counters(session) == {MARCH: (1, 3600.0)}


def test_an_older_version_after_a_newer_one_changes_nothing(
    consumer: EventConsumer[TaskEvent], session: Session
) -> None:
    created, started, done = history(task_id=1)

    deliver(consumer, created, done, started)

    state = task_state(session, task_id=1)
    assert state is not None
    assert (state.version, state.status, state.deleted) == (3, "done", False)
    assert month_counters(session) == {(MARCH, 4, "done"): 1}
    assert completion_counters(session) == {MARCH: (1, 3600.0)}


def test_an_update_before_its_create_gives_the_right_state(
    consumer: EventConsumer[TaskEvent], session: Session
) -> None:
    created, started, done = history(task_id=1)

    deliver(consumer, done)
    assert month_counters(session) == {(MARCH, 4, "done"): 1}
    deliver(consumer, created, started)

    state = task_state(session, task_id=1)
    assert state is not None
    assert (state.version, state.status) == (3, "done")
    assert month_counters(session) == {(MARCH, 4, "done"): 1}
    assert completion_counters(session) == {MARCH: (1, 3600.0)}


def test_a_delete_then_an_older_update_stays_deleted(
    consumer: EventConsumer[TaskEvent], session: Session
) -> None:
    created, started, done = history(task_id=1)
    deleted = create_next_event(after=done, deleted=True)

    deliver(consumer, created, done, deleted)
    assert (month_counters(session), completion_counters(session)) == ({}, {})
    deliver(consumer, started)

    state = task_state(session, task_id=1)
    assert state is not None
    assert (state.version, state.deleted) == (4, True)
    assert (month_counters(session), completion_counters(session)) == ({}, {})


def test_a_delete_before_anything_else_leaves_a_tombstone(
    consumer: EventConsumer[TaskEvent], session: Session
) -> None:
    created, started, _ = history(task_id=1)
    deleted = create_next_event(after=started, deleted=True)

    deliver(consumer, deleted, created, started)

    state = task_state(session, task_id=1)
    assert state is not None
    assert (state.version, state.deleted) == (3, True)
    assert month_counters(session) == {}


def test_a_reassignment_and_a_reopen_move_the_counts(
    consumer: EventConsumer[TaskEvent], session: Session
) -> None:
    created, _, done = history(task_id=1)
    reassigned = create_next_event(after=done, assignee_id=None)
    reopened = create_next_event(after=reassigned, status=TaskStatus.TODO)

    deliver(consumer, created, done, reassigned)
    assert month_counters(session) == {(MARCH, UNASSIGNED, "done"): 1}
    assert completion_counters(session) == {MARCH: (1, 3600.0)}
    deliver(consumer, reopened)
    assert month_counters(session) == {(MARCH, UNASSIGNED, "todo"): 1}
    assert completion_counters(session) == {}


def test_a_completion_counts_in_the_month_it_happened(
    consumer: EventConsumer[TaskEvent], session: Session
) -> None:
    created = create_event(task_id=1, created_at=datetime(2025, 3, 31, 23, 0, tzinfo=UTC))
    done = create_next_event(
        after=created, status=TaskStatus.DONE, at=datetime(2025, 4, 1, 1, 0, tzinfo=UTC)
    )

    deliver(consumer, created, done)

    assert month_counters(session) == {(MARCH, UNASSIGNED, "done"): 1}
    assert completion_counters(session) == {date(2025, 4, 1): (1, 7200.0)}


def test_a_change_the_kpis_ignore_only_moves_the_version(
    consumer: EventConsumer[TaskEvent], session: Session
) -> None:
    created = create_event(task_id=1, assignee_id=2, created_at=CREATED_AT)
    renamed = create_next_event(after=created, title="Write the final report")

    deliver(consumer, created, renamed)

    state = task_state(session, task_id=1)
    assert state is not None
    assert state.version == 2
    assert month_counters(session) == {(MARCH, 2, "todo"): 1}


def test_many_tasks_add_up(consumer: EventConsumer[TaskEvent], session: Session) -> None:
    for task_id in range(1, 6):
        deliver(consumer, create_event(task_id=task_id, assignee_id=7, created_at=CREATED_AT))
    deliver(consumer, create_event(task_id=6, created_at=CREATED_AT))

    assert month_counters(session) == {(MARCH, 7, "todo"): 5, (MARCH, UNASSIGNED, "todo"): 1}


def test_months_are_utc_whatever_the_database_time_zone(
    consumer: EventConsumer[TaskEvent], session: Session, connection: Connection
) -> None:
    """April 1st 02:00 UTC is still March 31st in New York; it counts in April."""
    connection.execute(text("SET LOCAL TIME ZONE 'America/New_York'"))
    created = create_event(task_id=1, created_at=datetime(2025, 4, 1, 2, 0, tzinfo=UTC))
    done = create_next_event(
        after=created, status=TaskStatus.DONE, at=datetime(2025, 5, 1, 1, 0, tzinfo=UTC)
    )

    deliver(consumer, created, done)

    april, may = date(2025, 4, 1), date(2025, 5, 1)
    assert month_counters(session) == {(april, UNASSIGNED, "done"): 1}
    assert completion_counters(session) == {may: (1, 30 * 86400 - 3600.0)}
