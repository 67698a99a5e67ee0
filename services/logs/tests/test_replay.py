"""A replay rebuilds the activity log beside the live one, then switches (real broker, database).

The producer's side is played by the test: it publishes the history (every event published so
far, as the outbox holds them) to the replay queue, as `services.tasks.manage replay` does.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, inspect, select, text, update
from sqlalchemy.engine import Engine

from services.logs import consumer as logs_consumer
from services.logs import manage
from services.logs.config import LogsSettings
from services.logs.main import create_app
from services.logs.models import ActivityLog, processed_event
from services.logs.tests.factories import create_event
from shared.contracts.events import TaskEvent
from shared.core.db import Database
from shared.core.readmodel import shadow_schema
from shared.messaging import generations, rebuild
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig, declare_consumer_queues
from shared.messaging.rebuild import ReadModel, replay_queue
from shared.messaging.replay_queues import ReplayError
from shared.messaging.subscriptions import Subscription
from tests.broker import AMQP_URL, channel_to, consuming, eventually, publish, unique_name
from tests.events import event_body
from tests.tokens import TestSigner

Entry = tuple[int, int, str, str]


@dataclass(frozen=True)
class Rig:
    """The logs consumer and its read model, on broker names of the test's own."""

    settings: LogsSettings
    subscription: Subscription[TaskEvent]
    model: ReadModel

    @property
    def config(self) -> ConsumerConfig:
        return self.subscription.config(self.settings)

    @property
    def replay_config(self) -> ConsumerConfig:
        return replace(self.config, queue=replay_queue(self.config.queue))

    def live_consumer(self, database: Database) -> EventConsumer[TaskEvent]:
        return self.subscription.consumer(
            self.settings, database=database, processed=processed_event
        )

    @asynccontextmanager
    async def broker(self) -> AsyncIterator[AbstractChannel]:
        """A channel; the consumer queues and the replay's are deleted afterwards."""
        queues = [
            name
            for config in (self.config, self.replay_config)
            for name in (config.queue, config.retry_queue, config.dead_queue)
        ]
        async with channel_to(AMQP_URL, exchange=self.config.exchange, queues=queues) as channel:
            await channel.set_qos(prefetch_count=0)
            yield channel


@pytest.fixture
def rig(settings: LogsSettings, engine: Engine, committed: None) -> Iterator[Rig]:
    own = settings.model_copy(
        update={"amqp_url": AMQP_URL, "events_exchange": unique_name("tasks.events")}
    )
    [subscription] = [
        replace(s, queue=unique_name("logs.task-events")) for s in logs_consumer.subscriptions(own)
    ]
    model = replace(logs_consumer.read_model(own), subscriptions=[subscription])
    yield Rig(settings=own, subscription=subscription, model=model)
    if shadow_tables(engine):  # a test that failed halfway
        asyncio.run(rebuild.abort(own, model))


def entries(engine: Engine) -> dict[uuid.UUID, Entry]:
    """The committed log, by event id: (task, user, action, detail)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                ActivityLog.event_id,
                ActivityLog.task_id,
                ActivityLog.user_id,
                ActivityLog.action_type,
                ActivityLog.detail,
            )
        )
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def entry_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(ActivityLog)) or 0


def processed_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(processed_event)) or 0


def shadow_tables(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return inspect(connection).get_table_names(schema=shadow_schema("logs"))


def garble_and_lose(engine: Engine, garbled: uuid.UUID, lost: uuid.UUID) -> None:
    """What a replay repairs: one entry written wrong, one lost (a consumer bug, say)."""
    with engine.begin() as connection:
        connection.execute(
            update(ActivityLog).where(ActivityLog.event_id == garbled).values(detail="garbled")
        )
        connection.execute(delete(ActivityLog).where(ActivityLog.event_id == lost))


def missing_entries(engine: Engine, history: list[TaskEvent], arrived: list[TaskEvent]) -> str:
    """Which events have no entry: their task ids, of the history and of those that arrived."""
    present = set(entries(engine))
    lost = [
        (kind, event.task.id)
        for kind, events in (("history", history), ("arrived", arrived))
        for event in events
        if event.event_id not in present
    ]
    return f"(of {len(history)} + {len(arrived)} events, no entry for {lost})"


async def queue_exists(name: str) -> bool:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(name, passive=True)
        return True
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return False
    finally:
        await connection.close()


async def publish_history(channel: AbstractChannel, queue: str, events: list[TaskEvent]) -> None:
    """What the producer's `replay` does: each event, oldest first, to the replay queue only."""
    for event in events:
        message = aio_pika.Message(event_body(event), message_id=str(event.event_id))
        await channel.default_exchange.publish(message, routing_key=queue)


async def keep_publishing(
    channel: AbstractChannel, config: ConsumerConfig, sent: list[TaskEvent], stop: asyncio.Event
) -> None:
    """New task events, one every 20 ms, as the relay publishes them, until `stop`."""
    while not stop.is_set():
        event = create_event(task_id=1000 + len(sent))
        await publish(channel, config, event_body(event))
        sent.append(event)
        await asyncio.sleep(0.02)


async def keep_counting(engine: Engine, counts: list[int], stop: asyncio.Event) -> None:
    """The log's size, as a reader sees it, every 20 ms until `stop`."""
    while not stop.is_set():
        counts.append(await asyncio.to_thread(entry_count, engine))
        await asyncio.sleep(0.02)


def test_a_replay_while_events_keep_arriving_never_empties_the_log(
    rig: Rig, engine: Engine, database: Database
) -> None:
    history = [create_event(task_id=task_id) for task_id in range(1, 31)]
    arrived: list[TaskEvent] = []
    counts: list[int] = []

    async def scenario() -> dict[uuid.UUID, Entry]:
        async with rig.broker() as channel, consuming(rig.live_consumer(database)):
            for event in history:
                await publish(channel, rig.config, event_body(event))
            await eventually(lambda: entry_count(engine) == len(history))
            before = entries(engine)
            garble_and_lose(engine, history[0].event_id, history[1].event_id)
            stop = asyncio.Event()
            background = [
                asyncio.create_task(keep_publishing(channel, rig.config, arrived, stop)),
                asyncio.create_task(keep_counting(engine, counts, stop)),
            ]
            try:
                await rebuild.start(rig.settings, rig.model)
                await publish_history(channel, rig.replay_config.queue, history + list(arrived))
                finished = await rebuild.finish(rig.settings, rig.model, give_up_after=60)
            finally:
                stop.set()
                await asyncio.gather(*background)
            assert finished == "the rebuilt logs read model is serving"  # no dead letters
            everything = len(history) + len(arrived)
            await eventually(
                lambda: entry_count(engine) == everything,
                explain=lambda: missing_entries(engine, history, arrived),
            )
            assert not await queue_exists(rig.replay_config.queue)
            return before

    before = asyncio.run(scenario())

    after = entries(engine)
    assert min(counts) >= len(history) - 1  # never empty, never less than it was
    assert set(after) == {event.event_id for event in history + arrived}
    assert {event_id: after[event_id] for event_id in before} == before  # repaired too
    assert (entry_count(engine), processed_count(engine)) == (len(after), len(after))
    assert len(arrived) > 10  # events kept arriving while it ran
    assert shadow_tables(engine) == []


def test_a_replay_with_the_broker_down_fails_clearly_and_changes_nothing(
    rig: Rig,
    engine: Engine,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = rig.live_consumer(database)
    for _ in range(3):
        live.process(event_body(create_event()))
    before = entries(engine)
    monkeypatch.setenv("DATABASE_URL", rig.settings.database_url)
    monkeypatch.setenv("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/")  # nothing listens there

    with pytest.raises(SystemExit) as exit_info:
        manage.main(["replay-start"])

    error = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert "RabbitMQ is not reachable" in error
    assert "nothing was changed" in error
    assert (entries(engine), shadow_tables(engine)) == (before, [])


def test_a_replay_without_the_consumer_queue_fails_clearly_and_changes_nothing(
    rig: Rig, engine: Engine
) -> None:
    with pytest.raises(ReplayError, match="there is no queue .* start its consumer once"):
        asyncio.run(rebuild.start(rig.settings, rig.model))

    assert shadow_tables(engine) == []


def test_a_second_replay_while_one_runs_fails_clearly_and_changes_nothing(
    rig: Rig, engine: Engine
) -> None:
    async def start_twice() -> None:
        async with rig.broker() as channel:
            await declare_consumer_queues(channel, rig.config)
            with engine.connect() as running_replay:  # holds the replay's lock, as `finish` does
                assert generations.try_replay_lock(running_replay, schema="logs")
                try:
                    with pytest.raises(ReplayError, match="another replay step of logs is running"):
                        await rebuild.start(rig.settings, rig.model)
                finally:  # the connection goes back to the pool, not away with its lock
                    running_replay.execute(text("SELECT pg_advisory_unlock_all()"))

    asyncio.run(start_twice())

    assert shadow_tables(engine) == []


def test_a_replay_that_fails_midway_leaves_the_old_log_serving(
    rig: Rig, engine: Engine, database: Database
) -> None:
    history = [create_event(task_id=task_id) for task_id in range(1, 6)]
    counts: list[int] = []

    async def scenario() -> None:
        async with rig.broker() as channel, consuming(rig.live_consumer(database)):
            for event in history:
                await publish(channel, rig.config, event_body(event))
            await eventually(lambda: entry_count(engine) == len(history))
            await rebuild.start(rig.settings, rig.model)
            await publish_history(channel, rig.replay_config.queue, history)
            poison = aio_pika.Message(b"not an event", message_id=str(uuid.uuid4()))
            await channel.default_exchange.publish(poison, routing_key=rig.replay_config.queue)
            stop = asyncio.Event()
            counting = asyncio.create_task(keep_counting(engine, counts, stop))
            try:
                with pytest.raises(ReplayError, match="dead letters"):
                    await rebuild.finish(rig.settings, rig.model, give_up_after=60)
            finally:
                stop.set()
                await counting
            assert not await queue_exists(rig.replay_config.queue)
            # The live consumer still serves the old generation.
            later = create_event(task_id=99)
            await publish(channel, rig.config, event_body(later))
            await eventually(lambda: later.event_id in entries(engine))

    asyncio.run(scenario())

    assert min(counts) == len(history)
    assert shadow_tables(engine) == []
    assert len(entries(engine)) == len(history) + 1


def test_answers_say_replaying_while_a_replay_runs(
    rig: Rig, engine: Engine, signer: TestSigner
) -> None:
    app = create_app(rig.settings, token_verifier=signer.verifier())

    async def replay_then_abort() -> None:
        async with rig.broker() as channel:
            await declare_consumer_queues(channel, rig.config)
            await rebuild.start(rig.settings, rig.model)
            await eventually(lambda: read_model_header() == "replaying")
            await rebuild.abort(rig.settings, rig.model)
            await eventually(lambda: read_model_header() is None)

    with TestClient(app) as client:

        def read_model_header() -> str | None:
            response = client.get("/logs/", headers=signer.headers(1))
            assert response.status_code == 200, response.text
            return response.headers.get("X-Read-Model")

        assert read_model_header() is None
        asyncio.run(replay_then_abort())

    assert shadow_tables(engine) == []


def test_after_the_switch_finish_again_applies_what_the_replay_queue_still_holds(
    rig: Rig, engine: Engine
) -> None:
    late = create_event(task_id=7)

    async def interrupted_after_the_switch() -> None:
        async with rig.broker() as channel:
            await declare_consumer_queues(channel, rig.config)
            await rebuild.start(rig.settings, rig.model)
            with engine.begin() as connection:  # where a replay-finish cut off past its switch is
                generations.drop_shadow(connection, shadow=shadow_schema("logs"))
            await publish_history(channel, rig.replay_config.queue, [late])
            with pytest.raises(ReplayError, match="already serving: run replay-finish"):
                await rebuild.abort(rig.settings, rig.model)
            await rebuild.finish(rig.settings, rig.model, give_up_after=60)
            assert not await queue_exists(rig.replay_config.queue)

    asyncio.run(interrupted_after_the_switch())

    assert set(entries(engine)) == {late.event_id}
