"""Engine, session and metadata helpers shared by the services."""

import asyncio
import select as io_select
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from contextvars import copy_context
from enum import Enum, StrEnum
from typing import Annotated, Any, NoReturn, TypeVar

import structlog
from fastapi import Depends, Request
from sqlalchemy import (
    ColumnElement,
    MetaData,
    Table,
    TableValuedAlias,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, Insert, insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from shared.core.errors import ServiceUnavailableError

T = TypeVar("T")
logger = structlog.get_logger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_metadata(schema: str) -> MetaData:
    """Metadata for one service's schema, with constraint names Alembic can rely on."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


# Every connection: UTC timestamps whatever the server's zone; no statement may hang a worker
# (30 s); a dead server is noticed (connect timeout, TCP keepalives) instead of waited on.
CONNECT_ARGS: dict[str, Any] = {
    "options": "-c timezone=UTC -c statement_timeout=30s",
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


class _Given(Enum):
    """What a use case is given: a session in a transaction (`run`), a session in autocommit
    (`read`), a connection in autocommit for reads (`query`), or one for a write that is a
    single statement (`write`)."""

    SESSION = "session"
    READ_SESSION = "read session"
    CONNECTION = "connection"
    WRITE = "write"


class Database:
    """One engine, its session factory, and the threads that run its use cases.

    psycopg2 blocks, so database work runs in worker threads; a request enters one once, with
    `run`, which opens the session there, runs the use case and closes the session before the
    thread is free again. There are exactly as many threads as pooled connections, so a thread
    never waits for a connection and a connection is never held while its request waits for a
    thread: the pool cannot deadlock. Requests beyond that wait their turn on the event loop
    (cheap), up to `queue_limit` of them; past that the answer is an immediate 503 with
    `Retry-After`, and so is a request that waited more than `queue_timeout` seconds for its
    thread (it is not run: under a sustained overload the threads then serve requests whose
    clients still wait, not ones already given up on), so an overload is shed fast instead of
    timing out.

    No ping per checkout (`pool_pre_ping`): a connection found dead is invalidated where the
    error happens, and the use case is run once more on a fresh one when nothing was written
    (the failure came before its commit began); otherwise the answer is a 503.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        queue_limit: int = 1000,
        queue_timeout: float = 2.0,
        schema_translate_map: dict[str | None, str | None] | None = None,
    ) -> None:
        pool: dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": 0,
            "pool_timeout": 5,  # well under the gateway's read timeout
            "connect_args": CONNECT_ARGS,
        }
        if schema_translate_map:  # e.g. a replay's consumers writing into the shadow schema
            pool["execution_options"] = {"schema_translate_map": schema_translate_map}
        self.engine: Engine = create_engine(url, **pool)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # Reads run without BEGIN and ROLLBACK: one round trip per statement instead of three.
        # Their connections stay in autocommit mode in a pool of their own (switching a pooled
        # connection back and forth costs more than the idle connections do); so does a write
        # that is one statement (`autocommit`).
        self.read_engine: Engine = create_engine(url, isolation_level="AUTOCOMMIT", **pool)
        # Their statements are their commits: a connection the server has closed is set aside
        # before one is sent on it, not found dead by a write that then cannot know its fate.
        event.listen(self.read_engine, "checkout", _set_aside_if_closed)
        self._read_sessionmaker = sessionmaker(self.read_engine, expire_on_commit=False)
        self._executor = ThreadPoolExecutor(pool_size, thread_name_prefix="db")
        self._capacity = pool_size + queue_limit
        # A request that waited longer than this for a thread is answered 503 without running:
        # its client (or the gateway) may have given up, and the thread serves one that has not.
        self._queue_timeout = queue_timeout
        self._in_flight = 0
        self._counting = threading.Lock()

    def session(self, *, read_only: bool = False) -> AbstractContextManager[Session]:
        """A new session (tests replace this with their own, see `conftest.on_test_session`).

        A `read_only` one is in autocommit mode: each statement sees the latest commits.
        """
        return (self._read_sessionmaker if read_only else self.sessionmaker)()

    def autocommit(self) -> AbstractContextManager[Connection]:
        """A connection of the read pool, where each statement is a transaction of its own: for
        a write that is one statement, no BEGIN and COMMIT round trips around it; and for the
        reads of `query` (tests replace this with their own session's connection)."""
        return self.read_engine.connect()

    async def run(self, use_case: Callable[..., T], /, **kwargs: Any) -> T:
        """`use_case(session, **kwargs)` in a database thread; see the class docstring."""
        return await self._submit(use_case, kwargs, _Given.SESSION)

    async def read(self, use_case: Callable[..., T], /, **kwargs: Any) -> T:
        """As `run`, for a use case that only reads: no transaction around its statements."""
        return await self._submit(use_case, kwargs, _Given.READ_SESSION)

    async def query(self, use_case: Callable[..., T], /, **kwargs: Any) -> T:
        """As `read`, the use case given a `Connection` (`autocommit`) instead of a session: for
        a read that selects columns and builds no ORM object. The session's bookkeeping (its
        transaction object, snapshot and close) was a third of a GET's database-thread time."""
        return await self._submit(use_case, kwargs, _Given.CONNECTION)

    async def write(self, use_case: Callable[..., T], /, **kwargs: Any) -> T:
        """As `query`, for a write that is one statement (its own transaction: no BEGIN and
        COMMIT round trips). A connection that fails during that statement is a 503, never run
        again: the statement may have committed. One that fails before it (connecting, or found
        closed by the server at checkout) is retried as `run` retries."""
        return await self._submit(use_case, kwargs, _Given.WRITE)

    async def _submit(self, use_case: Callable[..., T], kwargs: dict[str, Any], given: _Given) -> T:
        with self._counting:
            if self._in_flight >= self._capacity:
                raise OverloadedError()
            self._in_flight += 1
        job = self._executor.submit(
            copy_context().run, self._call, use_case, kwargs, given, time.monotonic()
        )
        job.add_done_callback(self._finished)
        return await asyncio.wrap_future(job)

    def _finished(self, _: object) -> None:
        with self._counting:
            self._in_flight -= 1

    def _call(
        self, use_case: Callable[..., T], kwargs: dict[str, Any], given: _Given, queued_at: float
    ) -> T:
        if time.monotonic() - queued_at > self._queue_timeout:
            raise OverloadedError()
        try:
            return self._once(use_case, kwargs, given)
        except _Retryable as first:
            logger.warning("database_retry", error=repr(first.__cause__))
        try:
            return self._once(use_case, kwargs, given)
        except _Retryable as second:
            raise DatabaseUnavailableError() from second.__cause__

    def _once(self, use_case: Callable[..., T], kwargs: dict[str, Any], given: _Given) -> T:
        if given in (_Given.CONNECTION, _Given.WRITE):
            try:  # the pool's checkout (it may open a connection): nothing is sent yet
                held = self.autocommit()
            except DBAPIError as exc:
                _raise_as_failure(exc, committing=False)
            with held as connection:
                try:
                    return use_case(connection, **kwargs)
                except DBAPIError as exc:  # a write's statement is its own commit
                    _raise_as_failure(exc, committing=given is _Given.WRITE)
        with self.session(read_only=given is _Given.READ_SESSION) as session:
            session.info.pop(_COMMITTING, None)
            try:
                return use_case(session, **kwargs)
            except DBAPIError as exc:
                _raise_as_failure(exc, committing=bool(session.info.get(_COMMITTING)))

    def dispose(self) -> None:
        """Stop the threads and close every pooled connection."""
        self._executor.shutdown(wait=True)
        self.engine.dispose()
        self.read_engine.dispose()


def _set_aside_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout: a connection with anything to read was closed by the server (an idle
    connection in autocommit is sent nothing else: PostgreSQL restarted, or its backend was
    terminated, and said so before closing). The pool then opens a fresh one. One poll object
    per connection, made at its first checkout: a zero-timeout poll is then one system call."""
    poll = record.info.get(_POLL)
    if poll is None:
        poll = record.info[_POLL] = io_select.poll()
        poll.register(dbapi_connection.fileno(), io_select.POLLIN)
    if poll.poll(0):
        raise DisconnectionError("the server closed the connection while it was idle")


_POLL = "efficient.poll"


class OverloadedError(ServiceUnavailableError):
    """More requests are waiting for the database than the queue holds."""

    message = "The service is overloaded; try again in a moment."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


class DatabaseUnavailableError(ServiceUnavailableError):
    """The database could not be reached, or lost the connection during a commit."""

    message = "The database is unavailable; try again in a moment."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


class _Retryable(Exception):
    """A transient failure before anything was committed: the use case may run again."""


def _failure(exc: DBAPIError, *, committing: bool) -> Exception | None:
    """What a use case's database error becomes: `_Retryable` when it came before a commit
    began and a fresh connection may succeed, a 503 for another outage or a timeout; None:
    the error itself."""
    if is_transient(exc) and not committing:
        return _Retryable()
    if isinstance(exc, OperationalError):  # e.g. a timeout, or a commit cut off
        return DatabaseUnavailableError()
    return None


def _raise_as_failure(exc: DBAPIError, *, committing: bool) -> NoReturn:
    """Raise what `_failure` makes of `exc`, or `exc` itself."""
    failure = _failure(exc, committing=committing)
    if failure is None:
        raise exc
    raise failure from exc


_COMMITTING = "committing"


class DatabaseFailure(StrEnum):
    """What a database error says about the database, so callers know whether to try again."""

    OUTAGE = "outage"  # the connection was lost or refused: wait until the database is back
    CONFLICT = "conflict"  # deadlock or serialization failure: the server rolled back; run again
    TIMEOUT = "timeout"  # a statement ran past its timeout (or was cancelled): the work was slow
    ERROR = "error"  # anything else: the statement or the data is wrong; running it again fails


# SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html)
_CONFLICT_STATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected
_TIMEOUT_STATES = {"57014", "55P03"}  # query_canceled (statement_timeout), lock_not_available
# admin_shutdown, crash_shutdown, cannot_connect_now; class 08 is "connection exception"
_OUTAGE_STATES = {"57P01", "57P02", "57P03"}


def classify(exc: DBAPIError) -> DatabaseFailure:
    """The kind of a database error: the one place the request path and the consumers ask."""
    code = getattr(exc.orig, "pgcode", None)
    if exc.connection_invalidated or code in _OUTAGE_STATES or (code or "").startswith("08"):
        return DatabaseFailure.OUTAGE
    if code in _CONFLICT_STATES:
        return DatabaseFailure.CONFLICT
    if code in _TIMEOUT_STATES:
        return DatabaseFailure.TIMEOUT
    # psycopg2 gives no SQLSTATE when it cannot connect or the connection breaks.
    if isinstance(exc, OperationalError) and code is None:
        return DatabaseFailure.OUTAGE
    return DatabaseFailure.ERROR


def is_transient(exc: DBAPIError) -> bool:
    """A lost or refused connection, or a transaction the server rolled back by itself."""
    return classify(exc) in (DatabaseFailure.OUTAGE, DatabaseFailure.CONFLICT)


@event.listens_for(Session, "before_commit")
def _mark_committing(session: Session) -> None:
    session.info[_COMMITTING] = True


@contextmanager
def standalone_session(url: str) -> Iterator[Session]:
    """A session outside any app (deploy-time commands), its engine closed afterwards."""
    database = Database(url, pool_size=1)
    try:
        with database.sessionmaker() as session:
            yield session
    finally:
        database.dispose()


async def get_database(request: Request) -> Database:
    """The app's database, set on `app.state.database` by `create_service_app`."""
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


def table_of(model: type[DeclarativeBase]) -> Table:
    """The table a mapped class is mapped to: for Core statements that need no ORM objects."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def insert_columns(
    table: Table,
    columns: Sequence[str],
    *,
    where: Callable[[TableValuedAlias], ColumnElement[bool]] | None = None,
    ordered_by: Sequence[str] = (),
) -> Insert:
    """`INSERT INTO table (columns) SELECT * FROM unnest(:column, ...)`: many rows sent as one
    array per column (`as_columns`), for a batch of rows; only those `where(rows)` holds for,
    if given (still in the arrays' order).

    SQLAlchemy's multi-row `VALUES` binds every value as a parameter of its own, and processing
    those costs more than the database takes to insert the rows (about 20 us a row of eight
    columns); one array per column costs a parameter per column. (An `INSERT ... ON CONFLICT`
    executed with a list of parameters is worse still: without RETURNING, SQLAlchemy does not
    batch it, and psycopg2 sends it row by row.) With `ON CONFLICT DO UPDATE` the rows of one
    call must have distinct keys: one statement may not update a row twice.

    `ordered_by` inserts the rows sorted by those columns (without a `where` only): writers
    that insert overlapping keys in one order wait for each other instead of deadlocking.
    """
    arrays = [cast(bindparam(name), ARRAY(table.c[name].type)) for name in columns]
    if where is None:
        rows = func.unnest(*arrays).table_valued(*columns).render_derived()
        listed = select(*(rows.c[name] for name in columns))
        return insert(table).from_select(
            list(columns), listed.order_by(*(rows.c[name] for name in ordered_by))
        )
    # A filter may be planned as a join, which need not keep the arrays' order: say it.
    rows = func.unnest(*arrays).table_valued(*columns, with_ordinality="n").render_derived()
    chosen = select(*(rows.c[name] for name in columns)).where(where(rows)).order_by(rows.c.n)
    return insert(table).from_select(list(columns), chosen)


def as_columns(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    """The parameters of an `insert_columns` statement: each column's values, row by row."""
    listed = list(rows)
    return {name: [row[name] for row in listed] for name in columns}
