"""The outbox relay against the real PostgreSQL and RabbitMQ, with committed data."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.tasks import repository, service
from services.tasks.config import TasksSettings
from services.tasks.models import OUTBOX, OutboxEvent
from services.tasks.relay import relay_config
from services.tasks.schemas import TaskUpdate
from services.tasks.tests.factories import ACTOR, UNUSED_USERS, create_tasks
from shared.contracts.events import TaskEvent, TaskStatus
from shared.core.db import Database
from shared.messaging.broker import unrouted_name
from shared.messaging.metrics import OutboxCollector
from shared.messaging.outbox import ClaimFloor
from shared.messaging.relay import OutboxListener, OutboxRelay
from tests.broker import AMQP_URL, bound_queue, eventually, receive, running, unique_name
from tests.events import create_snapshot, create_task_event
from tests.proxy import TcpProxy


@pytest.fixture
def relay_settings(settings: TasksSettings) -> TasksSettings:
    """A broker exchange of this test's own, never the one `make run` uses."""
    return settings.model_copy(
        update={
            "events_exchange": unique_name("tasks.events"),
            "amqp_url": AMQP_URL,
            "relay_poll_seconds": 0.2,
            "relay_retry_seconds": 0.2,
        }
    )


def outbox_ids(session: Session) -> list[uuid.UUID]:
    return list(session.scalars(select(OutboxEvent.event_id).order_by(OutboxEvent.id)))


@asynccontextmanager
async def relay_behind_proxy(
    settings: TasksSettings,
) -> AsyncIterator[tuple[TcpProxy, AbstractQueue]]:
    """The relay running, its broker link through a proxy the test can cut; a bound queue."""
    proxy = TcpProxy("127.0.0.1", 5672)
    await proxy.start()
    via_proxy = settings.model_copy(
        update={"amqp_url": f"amqp://guest:guest@127.0.0.1:{proxy.port}/"}
    )
    async with bound_queue(via_proxy.events_exchange) as (_, queue):
        async with running(OutboxRelay(relay_config(via_proxy))):
            yield proxy, queue
        await proxy.cut()


def event_ids(messages: list[AbstractIncomingMessage]) -> list[uuid.UUID]:
    return [TaskEvent.model_validate_json(message.body).event_id for message in messages]


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_publishes_every_event_once_in_order(
    committed: Session, relay_settings: TasksSettings
) -> None:
    [first, *_] = create_tasks(committed, 10)
    service.update_task(
        committed,
        task_id=first,
        data=TaskUpdate(status=TaskStatus.DONE),
        actor=ACTOR,
        expected_versions=None,
        users=UNUSED_USERS,
    )
    service.delete_task(committed, task_id=first, actor=ACTOR, expected_versions=None)
    expected = outbox_ids(committed)

    async def scenario() -> None:
        async with bound_queue(relay_settings.events_exchange) as (_, queue):
            async with running(OutboxRelay(relay_config(relay_settings))):
                messages = await receive(queue, len(expected))
                create_tasks(committed, 1)  # one more cycle: earlier rows must not come again
                messages += await receive(queue, 1)
            messages += await receive(queue, 1, within=0.5)

            assert event_ids(messages) == outbox_ids(committed)
            assert event_ids(messages)[: len(expected)] == expected
            kinds = [message.routing_key for message in messages]
            assert kinds == ["task.created"] * 10 + ["task.updated", "task.deleted", "task.created"]
            for message in messages:
                assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
                assert message.content_type == "application/json"
                event = TaskEvent.model_validate_json(message.body)
                assert message.message_id == str(event.event_id)

    run(scenario)
    published = committed.scalars(select(OutboxEvent.published_at)).all()
    assert len(published) == 13
    assert all(at is not None for at in published)


def test_an_event_committed_behind_the_claims_floor_still_goes_out(
    committed: Session, engine: Engine, relay_settings: TasksSettings
) -> None:
    """Claims start near the newest row published (`ClaimFloor`); an outbox row that took its
    id earlier but committed later is published by the next claim from the start."""
    late_event = create_task_event(task=create_snapshot(task_id=999, title="late"))

    async def scenario() -> None:
        async with bound_queue(relay_settings.events_exchange) as (_, queue):
            relay = OutboxRelay(relay_config(relay_settings))
            relay.floor = ClaimFloor(lookback=0, full_scan_seconds=0.5)
            async with running(relay):
                with Session(engine) as late:
                    repository.add_outbox_event(late, event=late_event)  # its id is taken now
                    create_tasks(committed, 1)  # a later id, committed first
                    messages = await receive(queue, 1)
                    await eventually(lambda: relay.floor.after_id > 1)
                    late.commit()
                messages += await receive(queue, 1)
            assert event_ids(messages) == outbox_ids(committed)[::-1]
            assert event_ids(messages)[1] == late_event.event_id

    run(scenario)


def test_wakes_on_notify_instead_of_waiting_for_the_poll(
    committed: Session, relay_settings: TasksSettings
) -> None:
    slow_poll = relay_settings.model_copy(update={"relay_poll_seconds": 30.0})

    async def scenario() -> None:
        async with (
            bound_queue(slow_poll.events_exchange) as (_, queue),
            running(OutboxRelay(relay_config(slow_poll))),
        ):
            create_tasks(committed, 1)
            assert len(await receive(queue, 1, within=5)) == 1  # the first, idle, cycle
            started = time.monotonic()
            create_tasks(committed, 1)
            assert len(await receive(queue, 1, within=5)) == 1
            assert time.monotonic() - started < 5  # not the 30 s poll

    run(scenario)


def test_events_written_while_the_broker_is_unreachable_arrive_after(
    committed: Session, relay_settings: TasksSettings
) -> None:
    async def scenario() -> None:
        async with relay_behind_proxy(relay_settings) as (proxy, queue):
            create_tasks(committed, 1)
            assert len(await receive(queue, 1)) == 1
            await proxy.cut()
            written_during_outage = create_tasks(committed, 5)  # writes do not need RabbitMQ
            assert len(written_during_outage) == 5
            await asyncio.sleep(0.5)
            assert await queue.get(fail=False) is None
            await proxy.start()
            messages = await receive(queue, 5, within=30)

        assert set(event_ids(messages)) == set(outbox_ids(committed)[1:])

    run(scenario)
    assert (
        committed.scalar(select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None))) is None
    )


def test_recovers_when_its_database_connections_are_killed(
    committed: Session, relay_settings: TasksSettings, engine: Engine
) -> None:
    async def scenario() -> None:
        async with (
            bound_queue(relay_settings.events_exchange) as (_, queue),
            running(OutboxRelay(relay_config(relay_settings))),
        ):
            create_tasks(committed, 1)
            assert len(await receive(queue, 1)) == 1
            # Kill only once the row is marked published: a kill between publish and commit
            # would rightly publish it again (at least once), which is not what this tests.
            await eventually(lambda: all_published(engine))
            with engine.connect() as connection:
                killed = connection.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND backend_type = 'client backend'"
                    )
                )
            assert killed
            committed.close()
            create_tasks(committed, 3)
            messages = await receive(queue, 3, within=20)

        assert set(event_ids(messages)) == set(outbox_ids(committed)[1:])

    run(scenario)


def all_published(engine: Engine) -> bool:
    with engine.connect() as connection:
        unpublished = select(OutboxEvent.id).where(OutboxEvent.published_at.is_(None))
        return connection.scalar(unpublished.limit(1)) is None


def test_two_relays_publish_each_event_once(
    committed: Session, relay_settings: TasksSettings
) -> None:
    create_tasks(committed, 200)
    small_batches = relay_settings.model_copy(update={"relay_batch_size": 10})

    async def scenario() -> None:
        async with bound_queue(small_batches.events_exchange) as (_, queue):
            async with running(
                OutboxRelay(relay_config(small_batches)), OutboxRelay(relay_config(small_batches))
            ):
                messages = await receive(queue, 200, within=30)
            messages += await receive(queue, 1, within=0.5)

        ids = event_ids(messages)
        assert len(ids) == 200
        assert set(ids) == set(outbox_ids(committed))

    run(scenario)


def test_events_no_queue_is_bound_for_are_kept(
    committed: Session, relay_settings: TasksSettings
) -> None:
    async def scenario() -> None:
        async with bound_queue(relay_settings.events_exchange) as (channel, queue):
            await queue.unbind(relay_settings.events_exchange, routing_key="task.*")
            async with running(OutboxRelay(relay_config(relay_settings))):
                create_tasks(committed, 2)
                unrouted = await channel.get_queue(unrouted_name(relay_settings.events_exchange))
                messages = await receive(unrouted, 2)

        assert set(event_ids(messages)) == set(outbox_ids(committed))

    run(scenario)


def test_a_database_that_does_not_answer_never_freezes_the_relay_loop() -> None:
    async def scenario() -> int:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # accepts, never answers, until the client gives up
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        listener = OutboxListener(
            f"postgresql+psycopg2://postgres@127.0.0.1:{port}/efficient_test",
            channel="tasks_outbox",
        )
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            for _ in range(10):
                await asyncio.sleep(0.1)
                ticks += 1

        await asyncio.gather(listener.wait(0.1, asyncio.Event()), tick())
        listener.close()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0.1)  # the handler closes its side once the client gave up
        return ticks

    assert run_and_return(scenario) == 10  # the loop kept running while the connect waited


def run_and_return(scenario: Callable[[], Awaitable[int]]) -> int:
    return asyncio.run(scenario())  # type: ignore[arg-type]


def test_the_outbox_gauges_rise_while_the_broker_is_cut_and_fall_after(
    committed: Session, relay_settings: TasksSettings
) -> None:
    registry = CollectorRegistry()
    database = Database(relay_settings.database_url, pool_size=1)
    registry.register(OutboxCollector(database, OUTBOX))
    labels = {"outbox": "tasks.outbox"}
    published = {"exchange": relay_settings.events_exchange}

    def waiting() -> float | None:
        return registry.get_sample_value("efficient_outbox_unpublished_events", labels)

    def age() -> float:
        return (
            registry.get_sample_value("efficient_outbox_oldest_unpublished_age_seconds", labels)
            or 0.0
        )

    async def scenario() -> None:
        async with relay_behind_proxy(relay_settings) as (proxy, queue):
            create_tasks(committed, 1)
            await receive(queue, 1)
            await eventually(lambda: waiting() == 0 and age() == 0)
            await proxy.cut()
            create_tasks(committed, 5)
            await eventually(lambda: waiting() == 5 and age() > 0.5)
            await proxy.start()
            await receive(queue, 5, within=30)
            await eventually(lambda: waiting() == 0 and age() == 0)

    try:
        run(scenario)
    finally:
        database.dispose()
    assert REGISTRY.get_sample_value("efficient_events_published_total", published) == 6
