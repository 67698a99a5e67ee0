"""Database errors by kind: real errors from the real PostgreSQL, and what a consumer does."""

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from shared.contracts.events import TaskEvent
from shared.core.db import Database, DatabaseFailure, classify
from shared.messaging.consumer import ERROR_HEADER
from shared.messaging.queues import ConsumerConfig
from shared.tests.test_consumer import (
    SCHEMA,
    applied_task_ids,
    consumer_of,
    created_body,
    record,
)
from tests.broker import (
    broker,
    consumer_config,
    consuming,
    dead_letter,
    dead_letter_count,
    eventually,
    publish,
)

# A statement that runs past its own timeout: PostgreSQL cancels it (SQLSTATE 57014).
TIMED_OUT = "SET LOCAL statement_timeout = '20ms'; SELECT pg_sleep(1)"


def failure_of(engine: Engine, statement: str) -> DatabaseFailure:
    """The kind of the error `statement` raises on the real database."""
    with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
        connection.execute(text(statement))
    return classify(raised.value)


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        (TIMED_OUT, DatabaseFailure.TIMEOUT),
        ("DO $$ BEGIN RAISE 'x' USING ERRCODE = '40P01'; END $$", DatabaseFailure.CONFLICT),
        ("DO $$ BEGIN RAISE 'x' USING ERRCODE = '40001'; END $$", DatabaseFailure.CONFLICT),
        ("SELECT 1 / 0", DatabaseFailure.ERROR),
        ("SELECT * FROM no_such_table", DatabaseFailure.ERROR),
    ],
    ids=["statement-timeout", "deadlock", "serialization", "division", "no-table"],
)
def test_errors_are_classified_by_their_sqlstate(
    engine: Engine, statement: str, kind: DatabaseFailure
) -> None:
    assert failure_of(engine, statement) is kind


def test_an_unreachable_server_is_an_outage(database_url: str) -> None:
    unreachable = create_engine(database_url.replace("127.0.0.1:5432", "127.0.0.1:9"))
    with pytest.raises(DBAPIError) as raised, unreachable.connect():
        pass
    unreachable.dispose()

    assert classify(raised.value) is DatabaseFailure.OUTAGE


def deadlock_victim(session: Session, engine: Engine) -> None:
    """Make `session` lose a real deadlock against another connection (it raises 40P01)."""
    session.execute(text(f"SET LOCAL deadlock_timeout = '10ms'; LOCK {SCHEMA}.first"))
    holding = threading.Event()
    pid: list[int] = []

    def other() -> None:
        with engine.begin() as connection:
            pid.append(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
            connection.execute(text(f"SET LOCAL deadlock_timeout = '10s'; LOCK {SCHEMA}.second"))
            holding.set()
            connection.execute(text(f"LOCK {SCHEMA}.first"))  # waits for `session`

    thread = threading.Thread(target=other)
    thread.start()
    try:
        holding.wait(10)
        waiting = text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid")
        deadline = time.monotonic() + 10
        with engine.connect() as watcher:
            while not watcher.execute(waiting, {"pid": pid[0]}).scalar():
                assert time.monotonic() < deadline, "the other transaction never waited"
                time.sleep(0.01)
        session.execute(text(f"LOCK {SCHEMA}.second"))  # the cycle: this one is cancelled
    finally:
        thread.join(20)


@pytest.fixture
def lock_tables(engine: Engine, tables: None) -> None:
    """Two tables to lock (dropped with the test's schema)."""
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE {SCHEMA}.first (); CREATE TABLE {SCHEMA}.second ()"))


def time_out(session: Session) -> None:
    session.execute(text(TIMED_OUT))


def failing_first(times: int, fail: Callable[[Session], None]) -> Callable[..., None]:
    """A handler that runs `fail` in its first `times` calls, then records the event."""
    calls = [0]

    def handler(session: Session, event: TaskEvent) -> None:
        calls[0] += 1
        if calls[0] <= times:
            fail(session)
        record(session, event)

    return handler


@pytest.mark.parametrize("failure", ["deadlock", "statement-timeout"])
def test_a_deadlock_or_a_passing_timeout_is_tried_again_not_dead_lettered(
    database: Database, engine: Engine, lock_tables: None, failure: str
) -> None:
    once = consumer_config(failure, max_attempts=1)  # any failure at all would dead-letter
    if failure == "deadlock":
        handler = failing_first(1, lambda session: deadlock_victim(session, engine))
    else:
        handler = failing_first(2, time_out)
    consumer = consumer_of(once, database, handler)

    async def scenario() -> None:
        async with broker(once) as channel, consuming(consumer):
            await publish(channel, once, created_body(task_id=1))
            await eventually(lambda: applied_task_ids(engine) == [1])
            assert await dead_letter_count(channel, once) == 0

    asyncio.run(scenario())


def test_a_statement_that_always_times_out_is_dead_lettered_with_its_error(
    database: Database,
    engine: Engine,
    config: ConsumerConfig,
) -> None:
    def slow_for_task_7(session: Session, event: TaskEvent) -> None:
        if event.task_id == 7:
            session.execute(text(TIMED_OUT))
        record(session, event)

    consumer = consumer_of(config, database, slow_for_task_7)

    async def scenario() -> None:
        async with broker(config) as channel, consuming(consumer):
            for task_id in (6, 7, 8):
                await publish(channel, config, created_body(task_id=task_id))
            dead = await dead_letter(channel, config)
            assert TaskEvent.model_validate_json(dead.body).task_id == 7
            assert "statement timeout" in str(dead.headers[ERROR_HEADER])
            await dead.ack()
            await eventually(lambda: applied_task_ids(engine) == [6, 8])

    asyncio.run(scenario())
