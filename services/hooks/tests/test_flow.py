"""The whole path: task events through the real RabbitMQ, the consumer, running dispatchers, a
real receiver. At least once with a stable `webhook-id`; no attempt sent twice; a hanging
endpoint holds only its own slots."""

import asyncio
import select
import threading
from collections import Counter

import psycopg2
import pytest
from sqlalchemy import func, text
from sqlalchemy import select as select_from
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook

from services.hooks.config import HooksSettings
from services.hooks.consumer import FAN_OUT
from services.hooks.dispatcher import Dispatcher
from services.hooks.models import CHANNEL, processed_event
from services.hooks.tests.clock import Clock, RunningClock
from services.hooks.tests.factories import (
    attempts,
    create_delivery,
    create_endpoint,
    create_event,
    deliveries,
)
from services.hooks.tests.receiver import Answer, Receiver
from shared.contracts.events import TaskEvent, TaskEventType
from shared.core.db import Database
from shared.messaging.applying import Outcome
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig
from tests.broker import broker, consumer_config, eventually, publish, running
from tests.events import event_body


@pytest.fixture
def config(settings: HooksSettings) -> ConsumerConfig:
    return consumer_config("hooks", amqp_url=settings.amqp_url, max_attempts=2)


@pytest.fixture
def consumer(config: ConsumerConfig, database: Database) -> EventConsumer[TaskEvent]:
    return EventConsumer(
        config,
        model=TaskEvent,
        database=database,
        processed=processed_event,
        rows=FAN_OUT,
    )


def test_an_event_becomes_one_delivery_per_endpoint_that_wants_it_once(
    consumer: EventConsumer[TaskEvent], engine: Engine, receiver: Receiver
) -> None:
    everything = create_endpoint(engine, url=receiver.url("/all"))
    deletions = create_endpoint(engine, url=receiver.url("/deleted"), event_types=["task.deleted"])
    create_endpoint(engine, url=receiver.url("/off"), status="disabled")
    created = create_event(event_type=TaskEventType.CREATED)
    deleted = create_event(event_type=TaskEventType.DELETED)

    assert consumer.process(event_body(created)) is Outcome.APPLIED
    assert consumer.process_batch([deleted, created]) == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert consumer.process(event_body(deleted)) is Outcome.DUPLICATE

    made = {(d.endpoint_id, d.event_id, d.event_type) for d in deliveries(engine)}
    assert made == {
        (everything.id, created.event_id, "task.created"),
        (everything.id, deleted.event_id, "task.deleted"),
        (deletions.id, deleted.event_id, "task.deleted"),
    }
    assert all(d.status == "pending" and d.attempt_count == 0 for d in deliveries(engine))


def test_the_dispatchers_are_woken_only_by_a_batch_that_added_deliveries(
    consumer: EventConsumer[TaskEvent], engine: Engine, receiver: Receiver
) -> None:
    create_endpoint(engine, url=receiver.url("/deleted"), event_types=["task.deleted"])
    listener = psycopg2.connect(
        engine.url.render_as_string(hide_password=False).replace("+psycopg2", "")
    )
    listener.autocommit = True
    listener.cursor().execute(f"LISTEN {CHANNEL}")

    def wake_ups_before_a_sentinel() -> int:
        """The NOTIFYs received so far: the sentinel comes after them (commit order)."""
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_notify(:channel, 'sentinel')"), {"channel": CHANNEL})
            connection.commit()
        received: list[str] = []
        while "sentinel" not in received:
            select.select([listener], [], [], 5)
            listener.poll()
            received += [notify.payload for notify in listener.notifies]
            listener.notifies.clear()
        return received.index("sentinel")

    try:
        consumer.process_batch([create_event(event_type=TaskEventType.CREATED)])  # nobody wants it
        quiet = wake_ups_before_a_sentinel()
        consumer.process_batch([create_event(event_type=TaskEventType.DELETED)])
        added = wake_ups_before_a_sentinel()
    finally:
        listener.close()

    assert (quiet, added) == (0, 1)


def test_while_the_receiver_is_down_nothing_is_lost_and_ids_stay_stable(
    settings: HooksSettings,
    consumer: EventConsumer[TaskEvent],
    config: ConsumerConfig,
    database: Database,
    engine: Engine,
    receiver: Receiver,
) -> None:
    endpoint = create_endpoint(engine, url=receiver.url())
    events = [create_event(task_id=task_id) for task_id in range(1, 11)]
    clock = RunningClock()
    receiver.stop()  # down: connections refused

    async def scenario() -> None:
        dispatcher = Dispatcher(settings, database=database, clock=clock)
        async with broker(config) as channel:
            await consumer.declare(channel)
            async with running(consumer, dispatcher):
                for event in events[:5]:
                    await publish(channel, config, event_body(event))
                await eventually(lambda: sum(a.error is not None for a in attempts(engine)) >= 5)
                receiver.start()  # back, on the same port
                for event in events[5:]:
                    await publish(channel, config, event_body(event))
                await eventually(lambda: len(receiver.requests()) >= 5)  # the new ones, at once
                clock.advance(seconds=10)  # the failed ones' retries fall due
                await eventually(
                    lambda: (
                        all(d.status == "succeeded" for d in deliveries(engine))
                        and len(deliveries(engine)) == 10
                    )
                )

    asyncio.run(scenario())

    got = receiver.requests()
    assert Counter(r.headers["webhook-id"] for r in got) == {str(e.event_id): 1 for e in events}
    for request in got:
        Webhook(endpoint.secret).verify(request.body, request.headers)
    retried = [d for d in deliveries(engine) if d.attempt_count == 2]
    assert len(retried) == 5  # the first five: refused once, then delivered
    with engine.connect() as connection:
        assert connection.scalar(select_from(func.count()).select_from(processed_event)) == 10


def test_two_dispatchers_never_send_one_attempt_twice(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    endpoints = [create_endpoint(engine, url=receiver.url(f"/{n}")) for n in range(3)]
    for n in range(150):
        create_delivery(engine, endpoint=endpoints[n % 3])
    wide = settings.model_copy(
        update={"hooks_dispatch_batch_size": 7, "hooks_endpoint_concurrency": 5}
    )

    async def scenario() -> None:
        first = Dispatcher(wide, database=database)
        second = Dispatcher(wide, database=database)
        async with running(first, second):
            await eventually(
                lambda: all(d.status == "succeeded" for d in deliveries(engine)), within=60
            )

    asyncio.run(scenario())

    sent = Counter(request.headers["webhook-id"] for request in receiver.requests())
    assert len(sent) == 150
    assert set(sent.values()) == {1}
    assert [a.error for a in attempts(engine) if a.error] == []
    assert len(attempts(engine)) == 150


def test_a_hanging_endpoint_holds_only_its_own_slots(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    released = threading.Event()
    receiver.answer = lambda got: Answer(200 if got.path != "/hangs" or released.wait(30) else 500)
    hanging = create_endpoint(engine, url=receiver.url("/hangs"))
    healthy = create_endpoint(engine, url=receiver.url("/healthy"))
    for _ in range(20):
        create_delivery(engine, endpoint=hanging)
    for _ in range(20):
        create_delivery(engine, endpoint=healthy)
    slow = settings.model_copy(update={"hooks_attempt_timeout_seconds": 30.0})

    def paths() -> Counter[str]:
        return Counter(request.path for request in receiver.requests())

    async def scenario() -> None:
        dispatcher = Dispatcher(slow, database=database)
        try:
            async with running(dispatcher):
                await eventually(lambda: paths()["/healthy"] == 20)
                # Meanwhile the hanging endpoint has exactly its slots in flight.
                assert paths()["/hangs"] == settings.hooks_endpoint_concurrency
                released.set()
                await eventually(
                    lambda: all(d.status == "succeeded" for d in deliveries(engine)), within=30
                )
        finally:
            released.set()

    asyncio.run(scenario())

    assert paths() == {"/hangs": 20, "/healthy": 20}


def test_a_dead_dispatchers_claim_is_taken_over_when_its_lease_runs_out(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    endpoint = create_endpoint(engine, url=receiver.url())
    create_delivery(engine, endpoint=endpoint)
    clock = Clock()

    async def scenario() -> None:
        crashed = Dispatcher(settings, database=database, clock=clock)
        assert len(await crashed.claim()) == 1  # claimed, then the process died
        await crashed.client.aclose()
        survivor = Dispatcher(settings, database=database, clock=clock)
        assert await survivor.dispatch_once() == 0  # leased: not due
        clock.advance(seconds=settings.hooks_attempt_timeout_seconds + 61)
        assert await survivor.dispatch_once() == 1
        await survivor.client.aclose()

    asyncio.run(scenario())

    (delivery,) = deliveries(engine)
    assert (delivery.status, delivery.attempt_count) == ("succeeded", 2)
    assert len(receiver.requests()) == 1
