"""The transactional outbox every producer shares: its table shape and its queries.

A producer (tasks, auth) stores each event in `<schema>.outbox` in the transaction of the change it
describes, so the change and its event commit or roll back together; its relay
(`shared/messaging/relay.py`) publishes the rows later. Published rows stay as the event history,
which a replay (`shared/messaging/replay.py`) can send again. Queries here never commit.

A row also keeps what the request that wrote it was: its `request_id` (`X-Request-ID`) and,
with tracing on, its W3C trace context (`trace_context`: `traceparent`, `tracestate`); the
relay sends both in the message's headers. With tracing off `trace_context` stays NULL.
"""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    DateTime,
    Identity,
    Index,
    Insert,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from shared.contracts.events import Envelope
from shared.core import tracing
from shared.core.context import MAX_REQUEST_ID_LENGTH, current_request_id


def request_columns() -> list[Column[Any]]:
    """The columns naming the request that wrote a row: its ID and its trace context."""
    return [
        Column("request_id", String(MAX_REQUEST_ID_LENGTH)),
        Column("trace_context", JSONB(none_as_null=True)),
    ]


def outbox_table(metadata: MetaData, *, entity_id: str) -> Table:
    """`outbox` in the metadata's schema; `entity_id` names the column of the changed thing."""
    table = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        # No index on these two: every write maintains each index of the outbox (on its insert
        # and on its publishing), and no query reads by either (see `unread_indexes_ddl`).
        Column("event_id", Uuid, nullable=False),
        Column("event_type", String(32), nullable=False),
        Column(entity_id, BigInteger, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("published_at", DateTime(timezone=True)),
        *request_columns(),
    )
    # The relay only ever scans what is still unpublished.
    Index("ix_outbox_unpublished", table.c.id, postgresql_where=table.c.published_at.is_(None))
    # `manage maintain` trims the oldest published ones (OUTBOX_RETENTION_DAYS).
    Index(
        "ix_outbox_published_at",
        table.c.published_at,
        postgresql_where=table.c.published_at.is_not(None),
    )
    return table


@dataclass(frozen=True)
class Outbox:
    """One producer's outbox: its table, and the NOTIFY channel that wakes its relay."""

    table: Table
    channel: str  # an identifier, never user input: LISTEN takes no bound parameter
    entity_id: str  # the table's column naming the changed thing (`task_id`, `user_id`)

    @functools.cached_property
    def insert(self) -> Insert:
        """The INSERT of one event, built once (the values are bound per call). Without
        RETURNING: nothing reads the new row's id, and fetching it cost a result to set up.
        The payload comes as JSON text (`payload_json`), cast by the database: pydantic writes
        it in one call, where a dict would be built and then encoded by `json.dumps`."""
        payload = cast(bindparam("payload_json", type_=Text), JSONB)
        return self.table.insert().inline().values(payload=payload)

    @functools.cached_property
    def claim(self) -> Executable:
        """`claim_unpublished`'s statement, built once (`limit`, `after_id` bound per call)."""
        table = self.table
        oldest = (
            select(table.c.id)
            .where(
                table.c.published_at.is_(None), table.c.id > bindparam("after_id", type_=BigInteger)
            )
            .order_by(table.c.id)
            .limit(bindparam("limit", type_=Integer))
            .with_for_update(skip_locked=True)
        )
        return (
            update(table)
            .where(table.c.id.in_(oldest.scalar_subquery()))
            .values(published_at=func.now())
            .returning(*_columns(self))
        )

    @classmethod
    def define(cls, metadata: MetaData, *, entity_id: str, channel: str) -> "Outbox":
        """The outbox table in the metadata's schema, and the channel that wakes its relay."""
        return cls(
            table=outbox_table(metadata, entity_id=entity_id), channel=channel, entity_id=entity_id
        )


@dataclass(frozen=True)
class StoredEvent:
    """One outbox row, as the relay and the replay publish it."""

    id: int
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    request_id: str | None = None
    trace_context: dict[str, str] | None = None


def add_event(session: Session, outbox: Outbox, *, event: Envelope, entity_id: int) -> None:
    """Store `event` in the caller's transaction; its relay is woken when that commits."""
    row = {outbox.entity_id: entity_id, **event_values(event)}
    if row["trace_context"] is None:  # tracing off: the column stays NULL, at no cost
        del row["trace_context"]
    # As parameters, not `.values(...)`: the compiled INSERT is cached for each set of columns,
    # and no value is made into a clause of the statement on every call.
    session.connection().execute(outbox.insert, row)
    # No NOTIFY here: the table's trigger sends it (`notify_trigger_ddl`), in the same round trip.


def event_values(event: Envelope) -> dict[str, Any]:
    """An outbox row's parameters for `event`, but its entity's id: the event, its JSON, and
    the request being handled (`shared.core.context`) and its trace, if any."""
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "payload_json": event.model_dump_json(),
        "request_id": current_request_id(),
        "trace_context": tracing.current_context(),
    }


def insert_with_event(
    outbox: Outbox, entity: Insert, *, id_paths: Sequence[Sequence[str]]
) -> Select[Any]:
    """One statement that inserts an entity and its event: `WITH entity AS (INSERT ...
    RETURNING ...), event AS (INSERT INTO outbox ... SELECT ... FROM entity) SELECT * FROM
    entity`. In autocommit it is one round trip, and atomic like any statement.

    `entity` is an INSERT with bound values, RETURNING its row (`id` first among them). The
    database makes that id: the event's JSON (`event_values`, written with a placeholder id)
    gets it at each of `id_paths`, and the row's entity column gets it too. Built once per
    producer; executed with the entity's values and `event_values`.
    """
    new = entity.cte("entity")
    payload: ColumnElement[Any] = cast(bindparam("payload_json", type_=Text), JSONB)
    for path in id_paths:
        payload = func.jsonb_set(payload, literal(list(path), ARRAY(Text)), func.to_jsonb(new.c.id))
    table = outbox.table
    parameters = ["event_id", "event_type", "request_id", "trace_context"]
    event = insert(table).from_select(
        [*parameters, outbox.entity_id, "payload"],
        select(
            *(bindparam(name, type_=table.c[name].type) for name in parameters),
            new.c.id,
            payload,
        ),
    )
    return select(*new.c).add_cte(event.cte("event"))


def notify_trigger_ddl(*, schema: str, channel: str) -> list[str]:
    """DDL of the trigger that NOTIFYs `channel` on every insert into `<schema>.outbox`.

    A statement-level trigger: a write costs no round trip of its own for the wake-up, and
    PostgreSQL delivers it when (and only if) the transaction commits.
    """
    return [
        f"CREATE OR REPLACE FUNCTION {schema}.notify_outbox() RETURNS trigger"
        f" LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$",
        f"CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {schema}.notify_outbox()",
    ]


def drop_notify_trigger_ddl(*, schema: str) -> list[str]:
    """DDL that removes what `notify_trigger_ddl` made."""
    return [
        f"DROP TRIGGER IF EXISTS outbox_notify ON {schema}.outbox",
        f"DROP FUNCTION IF EXISTS {schema}.notify_outbox()",
    ]


def unread_indexes_ddl(*, schema: str, entity_id: str) -> list[str]:
    """DDL that drops the outbox indexes no query reads: the entity id's index, and the event
    id's unique constraint (event ids are random UUIDs made per write; consumers drop a
    duplicate by `event_id` in their own schemas). Run outside a transaction (CONCURRENTLY)."""
    return [
        f"DROP INDEX CONCURRENTLY IF EXISTS {schema}.ix_{schema}_outbox_{entity_id}",
        f"ALTER TABLE {schema}.outbox DROP CONSTRAINT IF EXISTS uq_outbox_event_id",
    ]


def restore_unread_indexes_ddl(*, schema: str, entity_id: str) -> list[str]:
    """DDL that builds again what `unread_indexes_ddl` dropped."""
    return [
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_{schema}_outbox_{entity_id}"
        f" ON {schema}.outbox ({entity_id})",
        f"ALTER TABLE {schema}.outbox ADD CONSTRAINT uq_outbox_event_id UNIQUE (event_id)",
    ]


def _columns(outbox: Outbox) -> Sequence[Any]:
    c = outbox.table.c
    return (c.id, c.event_id, c.event_type, c.payload, c.created_at, c.request_id, c.trace_context)


def claim_unpublished(
    session: Session, outbox: Outbox, *, limit: int, after_id: int = 0
) -> list[StoredEvent]:
    """The oldest unpublished events after the row `after_id` (`ClaimFloor`), locked and marked
    published in the caller's transaction (one statement); rows another relay holds are
    skipped. The caller commits once the broker has confirmed them, and unmarks what it did
    not confirm (`unmark_published`)."""
    rows = session.execute(outbox.claim, {"limit": limit, "after_id": after_id})
    return sorted((StoredEvent(*row) for row in rows), key=lambda event: event.id)


@dataclass
class ClaimFloor:
    """Where a relay's claims start: a little behind the newest row it published.

    Publishing a row leaves its entry in the index of unpublished rows until a VACUUM removes
    it, and a claim from the start of that index steps over every one of them: with autovacuum
    off or behind, each claim took longer as the history grew (28-42 ms over 100k published
    rows, against 0.2 ms over 1k), and a busy relay claims many times a second. So claims start
    `lookback` ids behind the newest row claimed (a write's outbox id is taken just before its
    commit, so commits land that far out of order only under an extreme load), and every
    `full_scan_seconds`, after an error, and at start, one claim starts from the beginning:
    a row committed later than that still goes out, within `full_scan_seconds`.
    """

    lookback: int = 1000
    full_scan_seconds: float = 10.0
    after_id: int = 0
    full_scan_at: float | None = None

    def next(self, now: float) -> int:
        """The id the next claim starts after (0: from the beginning)."""
        if self.full_scan_at is None or now - self.full_scan_at >= self.full_scan_seconds:
            self.full_scan_at = now
            return 0
        return self.after_id

    def claimed(self, ids: Sequence[int]) -> None:
        """Move the floor after a batch was published."""
        if ids:
            self.after_id = max(self.after_id, max(ids) - self.lookback)

    def reset(self) -> None:
        """Start the next claim from the beginning (rows may have been left unpublished)."""
        self.full_scan_at = None


def unmark_published(session: Session, outbox: Outbox, *, ids: Sequence[int]) -> None:
    """Leave the rows `ids` unpublished after all (the broker did not confirm them)."""
    table = outbox.table
    session.execute(update(table).where(table.c.id.in_(ids)).values(published_at=None))


def events_after(
    session: Session, outbox: Outbox, *, after_id: int, limit: int
) -> list[StoredEvent]:
    """Up to `limit` stored events after the row `after_id`, published or not, oldest first."""
    table = outbox.table
    rows = session.execute(
        select(*_columns(outbox)).where(table.c.id > after_id).order_by(table.c.id).limit(limit)
    )
    return [StoredEvent(*row) for row in rows]
