"""The request path's database runner, against the real PostgreSQL: lost connections, overload."""

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from shared.core.db import Database, DatabaseUnavailableError, OverloadedError


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=2, queue_limit=2)
    yield database
    database.dispose()


def _backend_pid(session: Session | Connection) -> int:
    pid: int = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid


def _kill(engine: Engine, pid: int) -> None:
    """Terminate the backend and wait until it is gone (it has told its client by then)."""
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        connection.commit()
    gone = text("SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = :pid)")
    while True:
        with engine.connect() as connection:  # a new transaction: a fresh view of the backends
            if connection.scalar(gone, {"pid": pid}):
                return
        time.sleep(0.01)


# A use case given a session (`read`) or a connection (`query`, `write`) is retried alike: a
# `write` because its checkout sets aside a connection the server has closed.
READS = pytest.mark.parametrize("way", ["read", "query", "write"])


@READS
def test_a_connection_cut_before_the_write_is_retried_on_a_fresh_one(
    database: Database, engine: Engine, way: str
) -> None:
    read = getattr(database, way)
    pids = {asyncio.run(read(_backend_pid)) for _ in range(4)}
    for pid in pids:  # every pooled connection dies, as when PostgreSQL restarts
        _kill(engine, pid)

    answered = asyncio.run(read(_backend_pid))

    assert answered not in pids


def test_a_connection_cut_during_the_commit_is_a_503_not_a_second_write(
    database: Database, engine: Engine
) -> None:
    attempts = []

    def write_then_lose_the_connection(session: Session) -> None:
        attempts.append(1)
        _kill(engine, _backend_pid(session))
        session.commit()  # the server is gone: did it commit? nobody knows

    with pytest.raises(DatabaseUnavailableError) as caught:
        asyncio.run(database.run(write_then_lose_the_connection))

    assert len(attempts) == 1
    assert caught.value.status_code == 503
    assert caught.value.headers["Retry-After"] == "1"


def test_a_connection_cut_during_a_one_statement_write_is_a_503_not_a_second_write(
    database: Database, engine: Engine
) -> None:
    attempts = []

    def lose_the_connection_then_write(connection: Connection) -> None:
        attempts.append(1)
        _kill(engine, _backend_pid(connection))
        connection.execute(text("SELECT 1"))  # the write: did it commit? nobody knows

    with pytest.raises(DatabaseUnavailableError) as caught:
        asyncio.run(database.write(lose_the_connection_then_write))

    assert len(attempts) == 1
    assert caught.value.status_code == 503


@READS
def test_an_unreachable_database_is_a_503_with_retry_after(way: str) -> None:
    database = Database("postgresql+psycopg2://postgres@127.0.0.1:1/none_test", pool_size=1)
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            asyncio.run(getattr(database, way)(_backend_pid))
    finally:
        database.dispose()

    assert caught.value.headers["Retry-After"] == "1"


def test_past_the_queue_limit_requests_are_refused_at_once_and_the_rest_served(
    database: Database,
) -> None:
    release = threading.Event()

    def slow(session: Session) -> int:
        release.wait(10)
        return _backend_pid(session)

    async def burst() -> list[int | BaseException]:
        # 2 threads and 2 queue places: the fifth and sixth are refused at once.
        calls = [asyncio.ensure_future(database.read(slow)) for _ in range(6)]
        await asyncio.sleep(0.2)
        refused = [call for call in calls if call.done()]
        release.set()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert len(refused) == 2
        return results

    results = asyncio.run(burst())

    overloaded = [result for result in results if isinstance(result, OverloadedError)]
    served = [result for result in results if isinstance(result, int)]
    assert (len(overloaded), len(served)) == (2, 4)
    assert overloaded[0].headers["Retry-After"] == "1"
    assert asyncio.run(database.read(_backend_pid)) > 0  # the queue is free again


def test_a_request_that_waited_past_the_queue_timeout_is_refused_and_not_run(
    database_url: str,
) -> None:
    database = Database(database_url, pool_size=1, queue_limit=10, queue_timeout=0.3)
    release, ran = threading.Event(), []

    def slow(session: Session) -> int:
        release.wait(10)
        return _backend_pid(session)

    def recorded(session: Session) -> int:
        ran.append(True)
        return _backend_pid(session)

    async def overload() -> tuple[int | BaseException, int | BaseException]:
        holding = asyncio.ensure_future(database.read(slow))
        await asyncio.sleep(0.05)  # the one thread is busy: the next waits in the queue
        waiting = asyncio.ensure_future(database.read(recorded))
        await asyncio.sleep(0.5)  # longer than the queue timeout
        release.set()
        return await asyncio.gather(holding, waiting, return_exceptions=True)

    try:
        held, waited = asyncio.run(overload())
        fresh = asyncio.run(database.read(recorded))  # queued for no time: served
    finally:
        database.dispose()

    assert isinstance(held, int)
    assert isinstance(waited, OverloadedError)
    assert waited.headers["Retry-After"] == "1"
    assert fresh > 0
    assert ran == [True]  # only the fresh request ran; the one that waited too long did not
