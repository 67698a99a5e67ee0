"""The logs consumer: its handler, and the whole path through the real RabbitMQ."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.logs import service
from services.logs.config import LogsSettings
from services.logs.consumer import handle
from services.logs.models import ActivityLog, processed_event
from services.logs.tests.factories import committed_entries, create_event
from shared.consumer import ConsumerConfig, EventConsumer, Outcome
from shared.db import Database
from shared.events import TaskEvent, TaskEventType
from shared.messaging import unrouted_name


@pytest.fixture
def config(settings: LogsSettings) -> ConsumerConfig:
    """Broker names of this test's own, never `tasks.events` or `logs.task-events`."""
    name = f"test.logs.{uuid.uuid4().hex[:12]}"
    return ConsumerConfig(
        amqp_url=settings.amqp_url,
        exchange=name,
        queue=name,
        max_attempts=2,
        retry_delay_ms=50,
        db_retry_seconds=0.2,
    )


@pytest.fixture
def consumer(config: ConsumerConfig, database: Database) -> EventConsumer:
    return EventConsumer(config, database=database, processed=processed_event, handler=handle)


def _body(event: TaskEvent) -> bytes:
    return event.model_dump_json().encode()


@pytest.mark.parametrize(
    ("event_type", "changes", "action_type", "detail"),
    [
        (TaskEventType.CREATED, {}, "task_created", 'Task "Write the report" created'),
        (
            TaskEventType.UPDATED,
            {"status": ("todo", "in_progress"), "assignee_id": (None, 5)},
            "task_updated",
            "Status changed to in_progress; Assignee set to user 5",
        ),
        (TaskEventType.DELETED, {}, "task_deleted", 'Task "Write the report" deleted'),
    ],
    ids=["created", "updated", "deleted"],
)
def test_each_event_becomes_one_entry(
    consumer: EventConsumer,
    engine: Engine,
    event_type: TaskEventType,
    changes: dict[str, tuple[object, object]],
    action_type: str,
    detail: str,
) -> None:
    occurred_at = datetime(2025, 12, 3, 10, 15, 0, 123456, tzinfo=UTC)
    event = create_event(
        event_type=event_type, task_id=42, actor_id=7, occurred_at=occurred_at, changes=changes
    )

    assert consumer.process(_body(event)) is Outcome.APPLIED

    (entry,) = committed_entries(engine)
    assert (entry.task_id, entry.user_id, entry.action_type, entry.detail) == (
        42,
        7,
        action_type,
        detail,
    )
    assert entry.event_id == event.event_id
    assert entry.created_at == occurred_at


def test_a_duplicated_event_adds_nothing(consumer: EventConsumer, engine: Engine) -> None:
    body = _body(create_event())

    assert consumer.process(body) is Outcome.APPLIED
    assert consumer.process(body) is Outcome.DUPLICATE
    assert len(committed_entries(engine)) == 1


def test_an_event_recorded_twice_keeps_one_entry(session: Session, logs_schema: None) -> None:
    """Even without its `processed_event` row (e.g. lost in a partial reset)."""
    event = create_event()

    assert service.record_event(session, event=event) is not None
    assert service.record_event(session, event=event) is None
    count = select(func.count()).select_from(ActivityLog)
    assert session.scalar(count.where(ActivityLog.event_id == event.event_id)) == 1


def test_an_event_delivered_late_takes_its_place_in_time(
    consumer: EventConsumer, engine: Engine
) -> None:
    """A log has no state to roll back: an older event is still recorded, at its own time."""
    now = datetime.now(UTC)
    newer = create_event(event_type=TaskEventType.DELETED, version=3, occurred_at=now)
    older = create_event(
        event_type=TaskEventType.UPDATED,
        version=2,
        occurred_at=now - timedelta(minutes=1),
        changes={"title": ("A", "B")},
    )

    consumer.process(_body(newer))
    consumer.process(_body(older))

    assert [entry.action_type for entry in committed_entries(engine)] == [
        "task_updated",
        "task_deleted",
    ]


@asynccontextmanager
async def broker(config: ConsumerConfig) -> AsyncIterator[AbstractChannel]:
    """A channel to the test's exchange and queues; every one of them is deleted after."""
    connection = await aio_pika.connect(config.amqp_url)
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


@asynccontextmanager
async def running(consumer: EventConsumer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def eventually(check: Callable[[], bool], *, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def publish(channel: AbstractChannel, exchange: str, body: bytes, routing_key: str) -> None:
    target = await channel.get_exchange(exchange)
    await target.publish(
        aio_pika.Message(body, message_id=str(uuid.uuid4()), content_type="application/json"),
        routing_key=routing_key,
    )


def test_events_through_the_broker_become_entries_and_poison_is_dead_lettered(
    consumer: EventConsumer, config: ConsumerConfig, engine: Engine
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    events = [
        create_event(event_type=TaskEventType.CREATED, task_id=5, occurred_at=start),
        create_event(
            event_type=TaskEventType.UPDATED,
            task_id=5,
            actor_id=2,
            version=2,
            occurred_at=start + timedelta(minutes=1),
            changes={"title": ("Write the report", "Write the summary")},
        ),
        create_event(
            event_type=TaskEventType.DELETED,
            task_id=5,
            version=3,
            occurred_at=start + timedelta(minutes=2),
        ),
    ]
    poison = b'{"event_id": "not json'

    async def scenario() -> None:
        async with broker(config) as channel:
            await consumer.declare(channel)  # the queue exists before anything is published
            async with running(consumer):
                await publish(channel, config.exchange, _body(events[0]), "task.created")
                await publish(channel, config.exchange, poison, "task.updated")
                await publish(channel, config.exchange, _body(events[1]), "task.updated")
                await publish(channel, config.exchange, _body(events[2]), "task.deleted")
                await eventually(lambda: len(committed_entries(engine)) == 3)
                dead_queue = await channel.declare_queue(config.dead_queue, durable=True)
                dead = None
                deadline = time.monotonic() + 15
                while dead is None:
                    assert time.monotonic() < deadline, "the poison message never reached .dead"
                    dead = await dead_queue.get(fail=False)
                    await asyncio.sleep(0.05)
                assert dead.body == poison
                await dead.ack()

    asyncio.run(scenario())

    entries = committed_entries(engine)
    assert [entry.event_id for entry in entries] == [event.event_id for event in events]
    assert [(entry.action_type, entry.user_id) for entry in entries] == [
        ("task_created", 1),
        ("task_updated", 2),
        ("task_deleted", 1),
    ]
    assert entries[1].detail == 'Title changed from "Write the report" to "Write the summary"'
