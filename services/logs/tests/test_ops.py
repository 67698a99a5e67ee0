"""Operations commands on the logs consumer: its dead letters, and pruning its processed events."""

import asyncio
import dataclasses
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aio_pika.abc import AbstractChannel
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.logs import consumer as logs_consumer
from services.logs import manage
from services.logs.config import LogsSettings
from services.logs.consumer import ENTRIES
from services.logs.models import processed_event
from services.logs.tests.factories import committed_entries, create_event
from shared.contracts.events import TaskEvent
from shared.core.db import Database
from shared.messaging.applying import Handler
from shared.messaging.consumer import EventConsumer
from shared.messaging.dead_letters import DeadLetter, list_dead_letters
from shared.messaging.maintenance import prune_processed
from shared.messaging.outbox import StoredEvent
from shared.messaging.queues import ConsumerConfig
from shared.messaging.relay import outbox_message
from tests.broker import broker, consumer_config, consuming, eventually

BROKEN = "RuntimeError('the handler is broken')"


def printed(capsys: pytest.CaptureFixture[str], config: ConsumerConfig) -> list[str]:
    """What the commands printed about the test's queues (the consumers log to stdout too)."""
    lines = capsys.readouterr().out.splitlines()
    return [line for line in lines if line.startswith((config.dead_queue, "  "))]


def broken(session: Session, event: TaskEvent) -> None:
    raise RuntimeError("the handler is broken")


@pytest.fixture
def config(settings: LogsSettings) -> ConsumerConfig:
    return consumer_config("logs-ops", amqp_url=settings.amqp_url, max_attempts=2)


@pytest.fixture
def on_test_queue(
    config: ConsumerConfig, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m services.logs.manage ...` works on the test's database and queue."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AMQP_URL", config.amqp_url)
    monkeypatch.setenv("EVENTS_EXCHANGE", config.exchange)
    monkeypatch.setattr(logs_consumer, "QUEUE", config.queue)


async def cli(*argv: str) -> None:
    """`python -m services.logs.manage ...`, from a coroutine (the command runs its own loop)."""
    await asyncio.to_thread(manage.main, list(argv))


def logs_consumer_with(
    handler: Handler[TaskEvent] | None, config: ConsumerConfig, database: Database
) -> EventConsumer[TaskEvent]:
    """The logs consumer on the test's queue; with `handler` instead of its entries if given."""
    return EventConsumer(
        config,
        model=TaskEvent,
        database=database,
        processed=processed_event,
        handler=handler,
        rows=None if handler else ENTRIES,
    )


def relayed(event: TaskEvent) -> StoredEvent:
    """`event` as an outbox row, so it is published as the relay publishes it."""
    payload = event.model_dump(mode="json")
    return StoredEvent(0, event.event_id, event.event_type, payload, datetime.now(UTC))


async def publish_event(
    channel: AbstractChannel, config: ConsumerConfig, event: TaskEvent, *, to: str | None = None
) -> None:
    """Publish `event` as the relay does; straight into the queue `to` if given."""
    message = outbox_message(relayed(event))
    if to is not None:
        await channel.default_exchange.publish(message, routing_key=to)
        return
    exchange = await channel.get_exchange(config.exchange)
    await exchange.publish(message, routing_key=event.event_type)


async def dead_letters_of(config: ConsumerConfig, count: int) -> list[DeadLetter]:
    """The dead letters, once there are `count` of them."""
    deadline = time.monotonic() + 15
    while len(letters := await list_dead_letters(config)) != count:
        assert time.monotonic() < deadline, f"{len(letters)} dead letters, not {count}"
        await asyncio.sleep(0.05)
    return letters


def test_a_dead_letter_is_listed_without_being_taken_then_redriven_and_applied_once(
    config: ConsumerConfig,
    database: Database,
    engine: Engine,
    on_test_queue: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    event, later = create_event(task_id=42), create_event(task_id=43)

    async def scenario() -> None:
        async with broker(config) as channel:
            async with consuming(logs_consumer_with(broken, config, database)):
                await publish_event(channel, config, event)
                await dead_letters_of(config, 1)
            await cli("dead-letters", "list")
            await cli("dead-letters", "list")
            async with consuming(logs_consumer_with(None, config, database)):  # the fix
                await cli("dead-letters", "redrive", "--id", str(event.event_id))
                await eventually(lambda: len(committed_entries(engine)) == 1)
                assert await list_dead_letters(config) == []
                # A redrive that died between its confirm and its ack leaves a second copy
                # among the dead letters: redriven too, it is dropped as a duplicate.
                await publish_event(channel, config, event, to=config.dead_queue)
                await publish_event(channel, config, later, to=config.dead_queue)
                await cli("dead-letters", "redrive")
                await eventually(lambda: len(committed_entries(engine)) == 2)

    asyncio.run(scenario())

    listed = f"  {event.event_id}  task.created  attempts=2  {BROKEN}"
    output = printed(capsys, config)
    assert output[:4] == [f"{config.dead_queue}: 1 dead letters", listed] * 2
    assert output[4] == f"{config.dead_queue}: 1 redriven to {config.queue}"
    assert output[5] == f"{config.dead_queue}: 2 redriven to {config.queue}"
    assert sorted(entry.task_id for entry in committed_entries(engine)) == [42, 43]


def test_a_redriven_message_gets_every_attempt_again_and_purge_deletes_what_was_confirmed(
    config: ConsumerConfig,
    database: Database,
    on_test_queue: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A second apart, the redriven message's retries leave time to see it out of the dead
    # letters before it fails again (at 50 ms a poll could miss that window).
    config = dataclasses.replace(config, retry_delay_ms=1000)
    first, second = create_event(task_id=1), create_event(task_id=2)
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))

    async def scenario() -> list[list[DeadLetter]]:
        async with broker(config) as channel:
            async with consuming(logs_consumer_with(broken, config, database)):
                await publish_event(channel, config, first)
                await dead_letters_of(config, 1)
                await publish_event(channel, config, second)
                await dead_letters_of(config, 2)
                await cli("dead-letters", "redrive", "--id", str(first.event_id))
                seen = [await dead_letters_of(config, 1)]
                seen.append(await dead_letters_of(config, 2))  # it failed twice more
            await cli("dead-letters", "purge")  # answered "n"
            seen.append(await list_dead_letters(config))
            await cli("dead-letters", "list", "--limit", "1")
            await cli("dead-letters", "purge", "--id", str(second.event_id), "--yes")
            seen.append(await list_dead_letters(config))
            await cli("dead-letters", "purge")  # answered "y"
            seen.append(await list_dead_letters(config))
            return seen

    redriving, failed_again, refused, one_purged, all_purged = asyncio.run(scenario())

    ids = [str(first.event_id), str(second.event_id)]
    assert [letter.message_id for letter in redriving] == ids[1:]
    # In either order: a listing that holds the other letter (to read it) while the redriven
    # one dead-letters again returns it behind that one.
    assert sorted((letter.message_id, letter.attempts) for letter in failed_again) == sorted(
        [(ids[1], 2), (ids[0], 2)]  # not 3: the redrive reset its count
    )
    assert sorted(str(letter.message_id) for letter in refused) == sorted(ids)
    assert [letter.message_id for letter in one_purged] == ids[:1]
    assert all_purged == []
    output = printed(capsys, config)
    assert f"{config.dead_queue}: 0 purged" in output
    assert f"{config.dead_queue}: 1 dead letters (and 1 more past --limit)" in output


def test_a_queue_of_another_service_is_refused(
    on_test_queue: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        manage.main(["dead-letters", "list", "--queue", "kpi.task-events"])

    assert exit_info.value.code == 2
    assert "not a queue of this service" in capsys.readouterr().err


def test_dead_letters_of_a_consumer_that_never_ran_are_a_clear_error(
    on_test_queue: None, config: ConsumerConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        manage.main(["dead-letters", "list"])

    assert exit_info.value.code == 2
    assert f"there is no queue '{config.dead_queue}'" in capsys.readouterr().err


def test_a_redrive_to_a_queue_that_is_gone_keeps_the_dead_letter(
    config: ConsumerConfig, on_test_queue: None, capsys: pytest.CaptureFixture[str]
) -> None:
    event = create_event()

    async def scenario() -> list[DeadLetter]:
        async with broker(config) as channel:
            await channel.declare_queue(config.dead_queue, durable=True)
            await publish_event(channel, config, event, to=config.dead_queue)
            with pytest.raises(SystemExit) as exit_info:
                await cli("dead-letters", "redrive")
            assert exit_info.value.code == 2
            return await list_dead_letters(config)

    [kept] = asyncio.run(scenario())

    assert kept.message_id == str(event.event_id)
    assert f"there is no queue '{config.queue}'" in capsys.readouterr().err


def test_redriving_an_unknown_id_says_so(
    config: ConsumerConfig,
    database: Database,
    on_test_queue: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def scenario() -> None:
        async with broker(config), consuming(logs_consumer_with(None, config, database)):
            await cli("dead-letters", "redrive", "--id", "no-such-id")

    with pytest.raises(SystemExit) as exit_info:
        asyncio.run(scenario())

    assert "no-such-id" in str(exit_info.value.code)


def _processed_ids_aged(engine: Engine, *days: int) -> list[object]:
    """Record an applied event `days` ago for each of `days`; their ids."""
    now = datetime.now(UTC)
    rows = [{"event_id": uuid.uuid4(), "processed_at": now - timedelta(days=d)} for d in days]
    with engine.begin() as connection:
        connection.execute(processed_event.insert(), rows)
    return [row["event_id"] for row in rows]


def _processed_ids(engine: Engine) -> set[object]:
    with engine.connect() as connection:
        return set(connection.scalars(select(processed_event.c.event_id)))


def test_prune_deletes_only_the_ids_older_than_the_retention(
    committed: None,
    engine: Engine,
    on_test_queue: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, half_month_old, recent, today = _processed_ids_aged(engine, 30, 15, 13, 0)
    monkeypatch.setenv("PROCESSED_EVENT_RETENTION_DAYS", "20")

    manage.main(["prune-processed"])  # 20 days, from the setting
    after_setting = _processed_ids(engine)
    manage.main(["prune-processed", "--retention-days", "14"])

    assert after_setting == {half_month_old, recent, today}
    assert _processed_ids(engine) == {recent, today}
    assert capsys.readouterr().out.splitlines() == [
        "logs.processed_event: 1 event ids applied over 20 days ago deleted",
        "logs.processed_event: 1 event ids applied over 14 days ago deleted",
    ]


def test_a_retention_shorter_than_the_minimum_is_refused(
    committed: None, engine: Engine, on_test_queue: None, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = set(_processed_ids_aged(engine, 30, 3))

    with pytest.raises(SystemExit) as exit_info:
        manage.main(["prune-processed", "--retention-days", "2"])

    assert exit_info.value.code == 2
    assert "a retention of 2 days is too short: at least 7 days" in capsys.readouterr().err
    assert _processed_ids(engine) == ids


def test_prune_goes_through_every_batch(committed: None, engine: Engine, database_url: str) -> None:
    kept = _processed_ids_aged(engine, 30, 30, 30, 30, 30, 1)[-1]

    deleted = prune_processed(database_url, processed_event, keep=timedelta(days=7), batch=2)

    assert (deleted, _processed_ids(engine)) == (5, {kept})
