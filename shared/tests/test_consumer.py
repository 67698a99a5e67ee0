"""The shared consumer machinery against the real PostgreSQL and RabbitMQ."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from sqlalchemy import BigInteger, Column, MetaData, Table, Uuid, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateSchema, DropSchema

from shared.consumer import (
    ATTEMPT_HEADER,
    ConsumerConfig,
    EventConsumer,
    Outcome,
    PoisonMessageError,
    processed_event_table,
)
from shared.db import Database
from shared.events import TaskEvent, TaskEventType, TaskSnapshot, TaskStatus
from shared.messaging import unrouted_name
from tests.proxy import TcpProxy

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
SCHEMA = "consumer_test"
metadata = MetaData(schema=SCHEMA)
processed = processed_event_table(metadata)
applied = Table(
    "applied",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("task_id", BigInteger, nullable=False),
)


def record(session: Session, event: TaskEvent) -> None:
    session.execute(applied.insert().values(event_id=event.event_id, task_id=event.task_id))


@pytest.fixture
def tables(engine: Engine) -> Iterator[None]:
    with engine.begin() as connection:
        connection.execute(DropSchema(SCHEMA, cascade=True, if_exists=True))
        connection.execute(CreateSchema(SCHEMA))
    metadata.create_all(engine)
    yield
    with engine.begin() as connection:
        connection.execute(DropSchema(SCHEMA, cascade=True))


@pytest.fixture
def database(database_url: str, tables: None) -> Iterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    database.dispose()


@pytest.fixture
def config() -> ConsumerConfig:
    name = f"test.consumer.{uuid.uuid4().hex[:8]}"
    return ConsumerConfig(
        amqp_url=AMQP_URL,
        exchange=f"{name}.events",
        queue=name,
        max_attempts=3,
        retry_delay_ms=50,
        db_retry_seconds=0.2,
    )


def event_body(task_id: int = 1, **overrides: object) -> bytes:
    now = datetime.now(UTC)
    task = TaskSnapshot(
        id=task_id,
        title="t",
        description=None,
        status=TaskStatus.TODO,
        assignee_id=None,
        creator_id=1,
        due_date=None,
        created_at=now,
        updated_at=now,
        completed_at=None,
        version=1,
    )
    event = TaskEvent(
        event_id=uuid.uuid4(),
        event_type=TaskEventType.CREATED,
        occurred_at=now,
        actor_id=1,
        task_id=task_id,
        version=1,
        task=task,
    )
    return event.model_copy(update=overrides).model_dump_json().encode()


def applied_task_ids(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return sorted(connection.scalars(select(applied.c.task_id)))


def test_a_duplicate_event_changes_nothing(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    consumer = EventConsumer(config, database=database, processed=processed, handler=record)
    body = event_body(task_id=7)

    assert consumer.process(body) is Outcome.APPLIED
    assert consumer.process(body) is Outcome.DUPLICATE
    assert applied_task_ids(engine) == [7]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", b'{"event_id": "x"}', b"[]"],
    ids=["bad-json", "empty", "invalid", "not-an-object"],
)
def test_unreadable_messages_are_poison(
    database: Database, config: ConsumerConfig, body: bytes
) -> None:
    consumer = EventConsumer(config, database=database, processed=processed, handler=record)

    with pytest.raises(PoisonMessageError):
        consumer.process(body)


def test_an_unknown_schema_version_is_poison(database: Database, config: ConsumerConfig) -> None:
    consumer = EventConsumer(config, database=database, processed=processed, handler=record)
    body = event_body().replace(b'"schema_version":1', b'"schema_version":2')

    with pytest.raises(PoisonMessageError):
        consumer.process(body)


def test_a_failing_handler_commits_nothing(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    def record_then_fail(session: Session, event: TaskEvent) -> None:
        record(session, event)
        raise RuntimeError("bug")

    consumer = EventConsumer(
        config, database=database, processed=processed, handler=record_then_fail
    )

    with pytest.raises(RuntimeError):
        consumer.process(event_body())
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(processed)) == 0
    assert applied_task_ids(engine) == []


@asynccontextmanager
async def running(consumer: EventConsumer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def broker(config: ConsumerConfig) -> AsyncIterator[AbstractChannel]:
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    try:
        yield channel
    finally:
        for queue in (
            config.queue,
            config.retry_queue,
            config.dead_queue,
            unrouted_name(config.exchange),
        ):
            await channel.queue_delete(queue)
        await channel.exchange_delete(config.exchange)
        await channel.exchange_delete(unrouted_name(config.exchange))
        await connection.close()


async def publish(channel: AbstractChannel, config: ConsumerConfig, body: bytes) -> None:
    exchange = await channel.get_exchange(config.exchange)
    await exchange.publish(
        aio_pika.Message(body, message_id=str(uuid.uuid4())), routing_key="task.created"
    )


async def eventually(check: Callable[[], bool], *, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def test_poison_goes_to_the_dead_letter_queue_and_the_rest_is_applied(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    consumer = EventConsumer(config, database=database, processed=processed, handler=record)

    async def scenario() -> None:
        async with running(consumer), broker(config) as channel:
            await eventually(lambda: consumer._queue is not None)
            await publish(channel, config, event_body(task_id=1))
            await publish(channel, config, b"{ this is not an event")
            await publish(channel, config, event_body(task_id=2))
            await eventually(lambda: applied_task_ids(engine) == [1, 2])
            dead_queue = await channel.declare_queue(config.dead_queue, durable=True)
            dead = None
            deadline = time.monotonic() + 15
            while dead is None and time.monotonic() < deadline:
                dead = await dead_queue.get(fail=False)
                await asyncio.sleep(0.05)
            assert dead is not None
            assert dead.body == b"{ this is not an event"
            assert dead.headers[ATTEMPT_HEADER] == config.max_attempts + 1
            await dead.ack()

    asyncio.run(scenario())


def test_a_redelivery_after_commit_is_a_no_op(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    """A crash between commit and ack: the broker redelivers what was already applied."""
    consumer = EventConsumer(config, database=database, processed=processed, handler=record)
    body = event_body(task_id=3)
    consumer.process(body)  # committed; the ack never happened

    async def scenario() -> None:
        async with running(consumer), broker(config) as channel:
            await eventually(lambda: consumer._queue is not None)
            await publish(channel, config, body)
            await publish(channel, config, event_body(task_id=4))
            await eventually(lambda: applied_task_ids(engine) == [3, 4])

    asyncio.run(scenario())
    assert applied_task_ids(engine) == [3, 4]


def test_waits_out_a_database_outage_without_dead_lettering(
    database_url: str, tables: None, engine: Engine, config: ConsumerConfig
) -> None:
    async def scenario() -> None:
        proxy = TcpProxy("127.0.0.1", 5432)
        await proxy.start()
        url = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        database = Database(url, pool_size=2)
        consumer = EventConsumer(config, database=database, processed=processed, handler=record)
        async with running(consumer), broker(config) as channel:
            await eventually(lambda: consumer._queue is not None)
            await proxy.cut()
            await publish(channel, config, event_body(task_id=5))
            await asyncio.sleep(1.0)  # several retry rounds while the database is away
            assert applied_task_ids(engine) == []
            await proxy.start()
            await eventually(lambda: applied_task_ids(engine) == [5])
            dead = await channel.declare_queue(config.dead_queue, durable=True)
            assert dead.declaration_result.message_count == 0
        await proxy.cut()
        database.dispose()

    asyncio.run(scenario())


def test_resumes_after_the_broker_connection_is_cut(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    async def scenario() -> None:
        proxy = TcpProxy("127.0.0.1", 5672)
        await proxy.start()
        via_proxy = ConsumerConfig(
            **{**config.__dict__, "amqp_url": f"amqp://guest:guest@127.0.0.1:{proxy.port}/"}
        )
        consumer = EventConsumer(via_proxy, database=database, processed=processed, handler=record)
        async with running(consumer), broker(config) as channel:
            await eventually(lambda: consumer._queue is not None)
            await publish(channel, config, event_body(task_id=1))
            await eventually(lambda: applied_task_ids(engine) == [1])
            await proxy.cut()
            await publish(channel, config, event_body(task_id=2))  # queued while cut off
            await proxy.start()
            await publish(channel, config, event_body(task_id=3))
            await eventually(lambda: applied_task_ids(engine) == [1, 2, 3], within=30)
        await proxy.cut()

    asyncio.run(scenario())
