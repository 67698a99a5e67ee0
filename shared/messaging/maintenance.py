"""Housekeeping queries of the operations commands (`shared/messaging/ops.py`): outbox backlog,
pruning.

A consumer keeps the id of every event it applied in its `processed_event` table, so a copy
that arrives again changes nothing. Those rows only need to outlive the last copy of their
event that can still arrive: after the retention they are deleted, in batches of their own
transactions (a consumer's insert never waits long on them).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from shared.core.db import Database
from shared.core.retention import Trim, run_trim
from shared.core.settings import MIN_PROCESSED_EVENT_RETENTION_DAYS
from shared.messaging.outbox import Outbox

PRUNE_BATCH = 10_000


@dataclass(frozen=True)
class OutboxStatus:
    """A producer's backlog: events not yet confirmed by the broker, and the oldest one's age."""

    table: str  # e.g. `tasks.outbox`
    unpublished: int
    oldest_age: timedelta | None  # None when nothing waits


def outbox_status(session: Session, outbox: Outbox) -> OutboxStatus:
    """How many events of `outbox` wait for the relay, and since when (the database's clock).

    Both read the partial index of unpublished rows: the oldest is the first by id (as the
    relay takes them), one index entry, however long the backlog.
    """
    table = outbox.table
    unpublished = table.c.published_at.is_(None)
    first = select(table.c.created_at).where(unpublished).order_by(table.c.id).limit(1)
    count, oldest, now = session.execute(
        select(func.count(), first.scalar_subquery(), func.now())
        .select_from(table)
        .where(unpublished)
    ).one()
    age = None if oldest is None else now - oldest
    return OutboxStatus(table=table.fullname, unpublished=count, oldest_age=age)


class RetentionTooShortError(ValueError):
    """A retention that a late copy of an event could outlast."""


def retention(days: int) -> timedelta:
    """`days` as a retention; `RetentionTooShortError` below the safe minimum."""
    if days < MIN_PROCESSED_EVENT_RETENTION_DAYS:
        raise RetentionTooShortError(
            f"a retention of {days} days is too short: at least"
            f" {MIN_PROCESSED_EVENT_RETENTION_DAYS} days, longer than any event can still be"
            " redelivered (see docs/retention.md), or a late copy is applied twice"
        )
    return timedelta(days=days)


def prune_processed(
    database_url: str, processed: Table, *, keep: timedelta, batch: int = PRUNE_BATCH
) -> int:
    """Delete the ids of events applied longer than `keep` ago, a batch per transaction."""
    database = Database(database_url, pool_size=1)
    try:
        trim = processed_trim(processed, keep=keep)
        return run_trim(database, trim, now=datetime.now(UTC), batch=batch)
    finally:
        database.dispose()


def processed_trim(processed: Table, *, keep: timedelta) -> Trim:
    """`manage maintain`'s trim of the ids of events applied longer than `keep` ago."""
    return Trim(
        table=processed,
        expired=lambda now: processed.c.processed_at < now - keep,
        retention=f"ids of events applied in the last {keep.days} days",
    )


def outbox_trim(outbox: Outbox, *, keep: timedelta) -> Trim:
    """`manage maintain`'s trim of the events published longer than `keep` ago."""
    table = outbox.table
    return Trim(
        table=table,
        expired=lambda now: table.c.published_at < now - keep,
        retention=f"events published in the last {keep.days} days, and every unpublished one",
    )
