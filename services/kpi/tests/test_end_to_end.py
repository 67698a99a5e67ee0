"""The KPI consumer through the real RabbitMQ, on committed data."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from services.kpi.consumer import handle
from services.kpi.models import processed_event
from services.kpi.tests.factories import (
    completion_counters,
    create_event,
    create_next_event,
    month_counters,
    task_state,
)
from shared.contracts.events import TaskEvent, TaskStatus
from shared.core.db import Database
from shared.messaging.applying import Outcome
from shared.messaging.consumer import ATTEMPT_HEADER, EventConsumer
from shared.messaging.queues import ConsumerConfig
from tests.broker import (
    broker,
    consumer_config,
    consuming,
    dead_letter,
    dead_letter_count,
    eventually,
    publish,
)
from tests.events import event_body

JUNE = date(2025, 6, 1)
CREATED_AT = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def config() -> ConsumerConfig:
    return consumer_config("kpi")


@pytest.fixture
def consumer(
    database_url: str, committed: Session, config: ConsumerConfig
) -> Iterator[EventConsumer[TaskEvent]]:
    """The KPI consumer as `python -m services.kpi.consumer` runs it, on the test database."""
    database = Database(database_url, pool_size=2)
    yield EventConsumer(
        config, model=TaskEvent, database=database, processed=processed_event, handler=handle
    )
    database.dispose()


def version_of(session: Session, task_id: int) -> int | None:
    session.rollback()  # a fresh snapshot of what the consumer committed
    state = task_state(session, task_id=task_id)
    return None if state is None else state.version


def history(task_id: int) -> tuple[TaskEvent, TaskEvent]:
    created = create_event(task_id=task_id, assignee_id=5, created_at=CREATED_AT)
    done = create_next_event(
        after=created, status=TaskStatus.DONE, at=datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    )
    return created, done


def test_events_from_the_broker_are_applied_and_poison_is_dead_lettered(
    consumer: EventConsumer[TaskEvent], committed: Session, config: ConsumerConfig
) -> None:
    created, done = history(task_id=1)
    other = create_event(task_id=2, created_at=CREATED_AT)

    async def scenario() -> None:
        async with consuming(consumer), broker(config) as channel:
            await publish(channel, config, event_body(created))
            await publish(channel, config, b'{"event_id": "not a task event"}')
            await publish(channel, config, event_body(done))
            await publish(channel, config, event_body(other))
            await eventually(lambda: (version_of(committed, 1), version_of(committed, 2)) == (2, 1))
            dead = await dead_letter(channel, config)
            assert dead.body == b'{"event_id": "not a task event"}'
            assert dead.headers[ATTEMPT_HEADER] == config.max_attempts + 1
            await dead.ack()

    asyncio.run(scenario())
    assert month_counters(committed) == {(JUNE, 5, "done"): 1, (JUNE, 0, "todo"): 1}
    assert completion_counters(committed) == {JUNE: (1, 3600.0)}


def test_a_redelivery_after_commit_is_a_no_op(
    consumer: EventConsumer[TaskEvent], committed: Session, config: ConsumerConfig
) -> None:
    """A crash between commit and ack: the broker delivers what was already applied."""
    created, done = history(task_id=1)
    assert consumer.process(event_body(created)) is Outcome.APPLIED
    assert consumer.process(event_body(done)) is Outcome.APPLIED  # committed; never acked
    later = create_event(task_id=2, created_at=CREATED_AT)

    async def scenario() -> None:
        async with consuming(consumer), broker(config) as channel:
            await publish(channel, config, event_body(done))
            await publish(channel, config, event_body(later))
            await eventually(lambda: version_of(committed, 2) == 1)
            assert await dead_letter_count(channel, config) == 0

    asyncio.run(scenario())
    assert month_counters(committed) == {(JUNE, 5, "done"): 1, (JUNE, 0, "todo"): 1}
    assert completion_counters(committed) == {JUNE: (1, 3600.0)}
