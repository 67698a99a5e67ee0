"""`manage maintain`: trim a service's tables of the rows past their retention (docs/retention.md).

Each `Trim` names a table and the rows of it that are past their retention at a given moment,
selected through an index. `maintain` deletes them in batches of their own transactions, so a
writer never waits long on a trim, while holding the schema's advisory lock: a second
`maintain` of the same service (two CronJob runs overlapping, or `make maintain` beside one)
does nothing and says so.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    any_,
    delete,
    func,
    literal_column,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from shared.core.db import Database

DEFAULT_BATCH = 1000


@dataclass(frozen=True)
class Trim:
    """The rows of `table` past their retention at a moment: `expired(now)` selects them."""

    table: Table
    expired: Callable[[datetime], ColumnElement[bool]]
    retention: str  # what is kept, for the report: "published events of the last 30 days"


def trim_batch(session: Session, trim: Trim, *, now: datetime, limit: int) -> int:
    """Delete up to `limit` rows past their retention; how many. Does not commit."""
    ctid: ColumnElement[Any] = literal_column("ctid")
    batch = select(ctid).select_from(trim.table).where(trim.expired(now)).limit(limit)
    # `ctid = ANY(ARRAY(...))`: the rows found by the index, deleted by their address.
    result = session.execute(
        delete(trim.table).where(ctid == any_(func.array(batch.scalar_subquery())))
    )
    return cast(CursorResult[Any], result).rowcount


def _lock_key(schema: str) -> str:
    return f"efficient-system maintain {schema}"


def maintain(
    database_url: str,
    *,
    schema: str,
    trims: Sequence[Trim],
    batch: int = DEFAULT_BATCH,
    now: datetime | None = None,
) -> dict[str, int] | None:
    """Run every trim to the end, a batch per transaction; rows deleted per table, or None
    when another `maintain` of `schema` holds the lock (then nothing is done)."""
    database = Database(database_url, pool_size=2)
    try:
        with database.engine.connect() as holder:
            locked = holder.scalar(
                sql_text("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": _lock_key(schema)}
            )
            holder.commit()
            if not locked:
                return None
            try:
                moment = datetime.now(UTC) if now is None else now
                return {
                    trim.table.fullname: run_trim(database, trim, now=moment, batch=batch)
                    for trim in trims
                }
            finally:
                holder.execute(
                    sql_text("SELECT pg_advisory_unlock(hashtext(:key))"),
                    {"key": _lock_key(schema)},
                )
                holder.commit()
    finally:
        database.dispose()


def run_trim(database: Database, trim: Trim, *, now: datetime, batch: int) -> int:
    """Delete every row past its retention at `now`, `batch` rows a transaction; how many."""
    deleted = 0
    while True:
        with database.sessionmaker() as session:
            count = trim_batch(session, trim, now=now, limit=batch)
            session.commit()
        deleted += count
        if count < batch:
            return deleted
