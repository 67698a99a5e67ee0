"""The shared consumer machinery against the real PostgreSQL and RabbitMQ."""

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import BigInteger, Column, MetaData, Table, Uuid, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateSchema, DropSchema

from shared.contracts.events import TaskEvent
from shared.core.db import Database
from shared.messaging.applying import (
    EventApplier,
    Handler,
    Outcome,
    PoisonMessageError,
    RowPerEvent,
    processed_event_table,
)
from shared.messaging.consumer import ATTEMPT_HEADER, EventConsumer
from shared.messaging.queues import ConsumerConfig, declare_consumer_queues
from tests.broker import (
    broker,
    consumer_config,
    consuming,
    dead_letter,
    dead_letter_count,
    eventually,
    publish,
)
from tests.events import create_snapshot, create_task_event, event_body
from tests.proxy import TcpProxy

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


def consumer_of(
    config: ConsumerConfig, database: Database, handler: Handler[TaskEvent] = record
) -> EventConsumer[TaskEvent]:
    """A consumer of task events that applies them with `handler` (`record`: into `applied`)."""
    return EventConsumer(
        config, model=TaskEvent, database=database, processed=processed, handler=handler
    )


def count_batches(consumer: EventConsumer[TaskEvent]) -> list[int]:
    """The sizes of the batches `consumer` applies from now on, in order (filled as it runs)."""
    batches: list[int] = []
    process_batch = consumer.process_batch

    def counting(events: Sequence[TaskEvent]) -> list[Outcome]:
        batches.append(len(events))
        return process_batch(events)

    consumer.process_batch = counting  # type: ignore[method-assign]
    return batches


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
    return consumer_config("consumer")


def created_body(task_id: int = 1) -> bytes:
    """The message of a `task.created` event for task `task_id`."""
    return event_body(create_task_event(task=create_snapshot(task_id=task_id)))


def applied_task_ids(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return sorted(connection.scalars(select(applied.c.task_id)))


def test_a_duplicate_event_changes_nothing(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    consumer = consumer_of(config, database)
    body = created_body(task_id=7)

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
    consumer = consumer_of(config, database)

    with pytest.raises(PoisonMessageError):
        consumer.process(body)


def test_an_unknown_schema_version_is_poison(database: Database, config: ConsumerConfig) -> None:
    consumer = consumer_of(config, database)
    body = created_body().replace(b'"schema_version":1', b'"schema_version":2')

    with pytest.raises(PoisonMessageError):
        consumer.process(body)


def test_a_failing_handler_commits_nothing(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    def record_then_fail(session: Session, event: TaskEvent) -> None:
        record(session, event)
        raise RuntimeError("bug")

    consumer = consumer_of(config, database, record_then_fail)

    with pytest.raises(RuntimeError):
        consumer.process(created_body())
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(processed)) == 0
    assert applied_task_ids(engine) == []


def test_poison_goes_to_the_dead_letter_queue_and_the_rest_is_applied(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    consumer = consumer_of(config, database)

    async def scenario() -> None:
        async with broker(config) as channel, consuming(consumer):
            await publish(channel, config, created_body(task_id=1))
            await publish(channel, config, b"{ this is not an event")
            await publish(channel, config, created_body(task_id=2))
            await eventually(lambda: applied_task_ids(engine) == [1, 2])
            dead = await dead_letter(channel, config)
            assert dead.body == b"{ this is not an event"
            assert dead.headers[ATTEMPT_HEADER] == config.max_attempts + 1
            await dead.ack()

    asyncio.run(scenario())


def test_a_failed_message_is_kept_while_its_dead_letter_queue_is_missing(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    consumer = consumer_of(config, database)

    async def scenario() -> None:
        async with broker(config) as channel, consuming(consumer):
            await channel.queue_delete(config.dead_queue)  # deleted by mistake
            await publish(channel, config, b"{ this is not an event")
            await asyncio.sleep(1.0)  # its attempts run out while the queue is missing
            await channel.declare_queue(config.dead_queue, durable=True)  # put back
            dead = await dead_letter(channel, config)
            assert dead.body == b"{ this is not an event"
            await dead.ack()

    asyncio.run(scenario())


def test_a_redelivery_after_commit_is_a_no_op(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    """A crash between commit and ack: the broker redelivers what was already applied."""
    consumer = consumer_of(config, database)
    body = created_body(task_id=3)
    consumer.process(body)  # committed; the ack never happened

    async def scenario() -> None:
        async with broker(config) as channel, consuming(consumer):
            await publish(channel, config, body)
            await publish(channel, config, created_body(task_id=4))
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
        consumer = consumer_of(config, database)
        async with broker(config) as channel, consuming(consumer):
            await proxy.cut()
            await publish(channel, config, created_body(task_id=5))
            await asyncio.sleep(1.0)  # several retry rounds while the database is away
            assert applied_task_ids(engine) == []
            await proxy.start()
            await eventually(lambda: applied_task_ids(engine) == [5])
            assert await dead_letter_count(channel, config) == 0
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
        consumer = consumer_of(via_proxy, database)
        async with broker(config) as channel, consuming(consumer):
            await publish(channel, config, created_body(task_id=1))
            await eventually(lambda: applied_task_ids(engine) == [1])
            await proxy.cut()
            await publish(channel, config, created_body(task_id=2))  # queued while cut off
            await proxy.start()
            await publish(channel, config, created_body(task_id=3))
            await eventually(lambda: applied_task_ids(engine) == [1, 2, 3], within=30)
        await proxy.cut()

    asyncio.run(scenario())


def test_a_failing_event_in_a_batch_alone_goes_to_dead_letters(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    def record_but_task_7(session: Session, event: TaskEvent) -> None:
        if event.task_id == 7:
            raise ValueError("a handler bug that only task 7 meets")
        record(session, event)

    consumer = consumer_of(config, database, record_but_task_7)
    batches = count_batches(consumer)

    async def scenario() -> None:
        async with broker(config) as channel:
            await declare_consumer_queues(channel, config)
            for task_id in range(1, 21):  # all waiting before the consumer starts: one batch
                await publish(channel, config, created_body(task_id=task_id))
            async with consuming(consumer):
                await eventually(lambda: len(applied_task_ids(engine)) == 19)
                dead = await dead_letter(channel, config)
                assert TaskEvent.model_validate_json(dead.body).task_id == 7
                await dead.ack()

    asyncio.run(scenario())

    assert applied_task_ids(engine) == [n for n in range(1, 21) if n != 7]
    assert batches[0] > 1  # applied together first, then one by one to isolate task 7


def consumer_events(config: ConsumerConfig, outcome: str) -> float:
    labels = {"queue": config.queue, "outcome": outcome}
    return REGISTRY.get_sample_value("efficient_consumer_events_total", labels) or 0.0


def test_outcomes_lag_and_dead_letters_are_counted(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    config = dataclasses.replace(config, resubscribe_seconds=0.2)
    consumer = consumer_of(config, database)
    body = created_body(task_id=1)
    lag = {"queue": config.queue}

    async def scenario() -> None:
        async with broker(config) as channel, consuming(consumer):
            await publish(channel, config, body)
            await publish(channel, config, b"{ this is not an event")
            await eventually(lambda: consumer_events(config, "dead_lettered") == 1)
            await publish(channel, config, body)  # the same event again
            await publish(channel, config, created_body(task_id=2))
            await eventually(lambda: applied_task_ids(engine) == [1, 2])
            await eventually(lambda: consumer_events(config, "duplicate") == 1)
            await eventually(
                lambda: REGISTRY.get_sample_value("efficient_consumer_dead_letters", lag) == 1
            )
            await (await dead_letter(channel, config)).ack()
            await eventually(
                lambda: REGISTRY.get_sample_value("efficient_consumer_dead_letters", lag) == 0
            )

    asyncio.run(scenario())
    assert consumer_events(config, "applied") == 2
    assert consumer_events(config, "retried") == config.max_attempts - 1
    assert REGISTRY.get_sample_value("efficient_consumer_lag_seconds_count", lag) == 2


def test_a_batch_is_acked_whole_around_an_unreadable_message(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    """One ack frame settles a batch: nothing of it comes back once the consumer is gone."""
    consumer = consumer_of(config, database)

    async def scenario() -> int:
        async with broker(config) as channel:
            await declare_consumer_queues(channel, config)
            for task_id in range(1, 11):
                await publish(channel, config, created_body(task_id=task_id))
            await publish(channel, config, b"not an event")
            for task_id in range(11, 21):
                await publish(channel, config, created_body(task_id=task_id))
            async with consuming(consumer):
                await eventually(lambda: len(applied_task_ids(engine)) == 20)
                dead = await dead_letter(channel, config)
                assert dead.body == b"not an event"
                await dead.ack()
            # The consumer's channel is closed: whatever it had not acked is ready again.
            declared = await channel.declare_queue(config.queue, passive=True)
            return declared.declaration_result.message_count or 0

    assert asyncio.run(scenario()) == 0
    assert applied_task_ids(engine) == list(range(1, 21))


@pytest.mark.parametrize("busy", [True, False])
def test_what_arrives_during_a_busy_batch_is_gathered_with_the_rest_of_its_burst(
    database: Database, engine: Engine, config: ConsumerConfig, busy: bool
) -> None:
    """Three messages arrive while the first batch is applied (slowly), one more just after:
    busy, the consumer gathers the four into one batch; not busy, it applies the three at once.
    """
    config = dataclasses.replace(
        config,
        linger_above_per_second=0 if busy else 1_000_000,
        linger_seconds=5.0,
        linger_quiet_seconds=0.5,
    )
    started = threading.Event()

    def slow_first(session: Session, event: TaskEvent) -> None:
        if event.task_id == 1:
            started.set()
            time.sleep(0.5)
        record(session, event)

    consumer = consumer_of(config, database, handler=slow_first)
    batches = count_batches(consumer)

    async def scenario() -> None:
        async with broker(config) as channel:
            await declare_consumer_queues(channel, config)
            async with consuming(consumer):
                await publish(channel, config, created_body(task_id=1))
                await asyncio.to_thread(started.wait, 5)
                for task_id in (2, 3, 4):
                    await publish(channel, config, created_body(task_id=task_id))
                await eventually(lambda: 1 in applied_task_ids(engine))
                await publish(channel, config, created_body(task_id=5))
                await eventually(lambda: len(applied_task_ids(engine)) == 5)

    asyncio.run(scenario())
    if busy:
        assert batches[1:] == [4]  # 2, 3 and 4 waited for 5
    else:
        assert batches[1] == 3  # 2, 3 and 4 at once


@pytest.mark.parametrize("busy", [True, False])
def test_a_busy_consumer_waits_longer_to_take_a_burst_as_one_batch(
    database: Database, engine: Engine, config: ConsumerConfig, busy: bool
) -> None:
    """Five messages 50 ms apart: one batch while busy (a 0.5 s quiet gap ends it), one batch
    each while not (applied as they come)."""
    config = dataclasses.replace(
        config,
        linger_above_per_second=0 if busy else 1_000_000,
        linger_seconds=5.0,
        linger_quiet_seconds=0.5,
    )
    consumer = consumer_of(config, database)
    batches = count_batches(consumer)

    async def scenario() -> None:
        async with broker(config) as channel:
            await declare_consumer_queues(channel, config)
            for task_id in (1, 2):  # waiting before the consumer starts: its first batch
                await publish(channel, config, created_body(task_id=task_id))
            async with consuming(consumer):
                await eventually(lambda: len(applied_task_ids(engine)) == 2)
                for task_id in range(3, 8):
                    await publish(channel, config, created_body(task_id=task_id))
                    await asyncio.sleep(0.05)
                await eventually(lambda: len(applied_task_ids(engine)) == 7)

    asyncio.run(scenario())
    if busy:
        assert batches[-1] == 5  # the five together
    else:
        assert max(batches) < 5


def _waiting_on_a_lock(engine: Engine, table: str) -> bool:
    """Whether some server process waits for a lock in a statement naming `table`."""
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND query LIKE :table"
            ),
            {"table": f"%{table}%"},
        )
    return bool(waiting)


@pytest.mark.parametrize("read_model", ["handler", "row per event"])
def test_replicas_claiming_one_batch_in_other_orders_wait_instead_of_deadlocking(
    database: Database, engine: Engine, read_model: str
) -> None:
    """Another replica holds the claim of the smaller id, uncommitted, and goes on to claim the
    larger one, while this one gets the same two events the other way round. Claimed in the
    batch's order, this one would hold the larger id and wait for the smaller: a deadlock, and
    one of the two fails. Claimed in id order, this one waits first, and finds both applied."""
    events = sorted(
        (create_task_event(task=create_snapshot(task_id=n)) for n in (1, 2)),
        key=lambda event: event.event_id,
    )
    applier: EventApplier[TaskEvent] = (
        EventApplier(model=TaskEvent, database=database, processed=processed, handler=record)
        if read_model == "handler"
        else EventApplier(
            model=TaskEvent,
            database=database,
            processed=processed,
            rows=RowPerEvent(
                table=applied,
                columns=["event_id", "task_id"],
                row=lambda event: {"event_id": event.event_id, "task_id": event.task_id},
            ),
        )
    )
    outcomes: list[object] = []
    with engine.connect() as other:
        other.execute(processed.insert().values(event_id=events[0].event_id))
        worker = threading.Thread(
            target=lambda: outcomes.append(_outcome_or_error(applier, events[::-1]))
        )
        worker.start()
        deadline = time.monotonic() + 15
        while not _waiting_on_a_lock(engine, processed.name):
            assert time.monotonic() < deadline, "the batch never waited for the other replica"
            time.sleep(0.01)
        other.execute(processed.insert().values(event_id=events[1].event_id))
        other.commit()
    worker.join(timeout=30)

    assert outcomes == [[Outcome.DUPLICATE, Outcome.DUPLICATE]]


def _outcome_or_error(applier: EventApplier[TaskEvent], events: list[TaskEvent]) -> object:
    try:
        return applier.process_batch(events)
    except Exception as exc:  # the deadlock's victim: the test shows it
        return exc
