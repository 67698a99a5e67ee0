"""The KPI consumer through the real RabbitMQ, on committed data, and the reset command."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from sqlalchemy.orm import Session

from services.kpi.config import KpiSettings
from services.kpi.consumer import handle
from services.kpi.manage import reset
from services.kpi.models import processed_event
from services.kpi.tests.conftest import AMQP_URL
from services.kpi.tests.factories import (
    completion_counters,
    create_event,
    create_next_event,
    event_body,
    month_counters,
    task_state,
)
from shared.consumer import ATTEMPT_HEADER, ConsumerConfig, EventConsumer, Outcome
from shared.db import Database
from shared.events import TaskEvent, TaskStatus
from shared.messaging import unrouted_name

JUNE = date(2025, 6, 1)
CREATED_AT = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def config() -> ConsumerConfig:
    """Broker names of this test's own, never the ones `make run` uses."""
    name = f"test.kpi.{uuid.uuid4().hex[:8]}"
    return ConsumerConfig(
        amqp_url=AMQP_URL,
        exchange=f"{name}.events",
        queue=name,
        max_attempts=3,
        retry_delay_ms=50,
        db_retry_seconds=0.2,
    )


@pytest.fixture
def consumer(
    database_url: str, committed: Session, config: ConsumerConfig
) -> Iterator[EventConsumer]:
    """The KPI consumer as `python -m services.kpi.consumer` runs it, on the test database."""
    database = Database(database_url, pool_size=2)
    yield EventConsumer(config, database=database, processed=processed_event, handler=handle)
    database.dispose()


@asynccontextmanager
async def running(consumer: EventConsumer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await eventually(lambda: consumer._queue is not None)
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def broker(config: ConsumerConfig) -> AsyncIterator[AbstractChannel]:
    """A channel to the test's exchange; its queues and exchanges are deleted afterwards."""
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    try:
        yield channel
    finally:
        for queue in (config.queue, config.retry_queue, config.dead_queue):
            await channel.queue_delete(queue)
        await channel.queue_delete(unrouted_name(config.exchange))
        await channel.exchange_delete(config.exchange)
        await channel.exchange_delete(unrouted_name(config.exchange))
        await connection.close()


async def publish(channel: AbstractChannel, config: ConsumerConfig, body: bytes) -> None:
    exchange = await channel.get_exchange(config.exchange)
    await exchange.publish(
        aio_pika.Message(body, message_id=str(uuid.uuid4())), routing_key="task.updated"
    )


async def eventually(check: Callable[[], bool], *, within: float = 15.0) -> None:
    """Poll `check` until it holds; fail at the deadline."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def dead_letter(channel: AbstractChannel, config: ConsumerConfig) -> AbstractIncomingMessage:
    """The first message of the dead-letter queue, polled until the deadline."""
    queue = await channel.declare_queue(config.dead_queue, durable=True)
    deadline = time.monotonic() + 15
    while (message := await queue.get(fail=False)) is None:
        assert time.monotonic() < deadline, "nothing reached the dead-letter queue"
        await asyncio.sleep(0.05)
    return message


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
    consumer: EventConsumer, committed: Session, config: ConsumerConfig
) -> None:
    created, done = history(task_id=1)
    other = create_event(task_id=2, created_at=CREATED_AT)

    async def scenario() -> None:
        async with running(consumer), broker(config) as channel:
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
    consumer: EventConsumer, committed: Session, config: ConsumerConfig
) -> None:
    """A crash between commit and ack: the broker delivers what was already applied."""
    created, done = history(task_id=1)
    assert consumer.process(event_body(created)) is Outcome.APPLIED
    assert consumer.process(event_body(done)) is Outcome.APPLIED  # committed; never acked
    later = create_event(task_id=2, created_at=CREATED_AT)

    async def scenario() -> None:
        async with running(consumer), broker(config) as channel:
            await publish(channel, config, event_body(done))
            await publish(channel, config, event_body(later))
            await eventually(lambda: version_of(committed, 2) == 1)
            dead = await channel.declare_queue(config.dead_queue, durable=True)
            assert dead.declaration_result.message_count == 0

    asyncio.run(scenario())
    assert month_counters(committed) == {(JUNE, 5, "done"): 1, (JUNE, 0, "todo"): 1}
    assert completion_counters(committed) == {JUNE: (1, 3600.0)}


def test_reset_then_a_replay_rebuilds_the_read_model(
    consumer: EventConsumer, committed: Session, settings: KpiSettings
) -> None:
    created, done = history(task_id=1)
    deleted_later = create_event(task_id=2, created_at=CREATED_AT)
    events = [created, done, deleted_later, create_next_event(after=deleted_later, deleted=True)]
    for event in events:
        consumer.process(event_body(event))
    before = (month_counters(committed), completion_counters(committed))
    committed.rollback()  # TRUNCATE waits for open transactions on the tables

    reset(settings)

    committed.rollback()
    assert (month_counters(committed), completion_counters(committed)) == ({}, {})
    assert task_state(committed, task_id=2) is None
    assert [consumer.process(event_body(event)) for event in events] == [Outcome.APPLIED] * 4
    assert (month_counters(committed), completion_counters(committed)) == before
    assert before == ({(JUNE, 5, "done"): 1}, {JUNE: (1, 3600.0)})
