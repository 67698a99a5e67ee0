"""Applying events idempotently: the database half of a consumer (`shared/messaging/consumer.py` is
the broker half).

A batch of events is applied in one transaction that first records each `event_id` in the
service's `processed_event` table (one statement for the batch): an event whose id was there
already is a duplicate and changes nothing, so a redelivered message is harmless.

Ids are claimed in id order, not the batch's: two replicas holding redelivered copies of the
same events in other orders then wait for each other instead of deadlocking (each would hold an
id the other needs).

A read model that is one row per event (`RowPerEvent`, e.g. the activity log) is written in the
same statement as the claim, in autocommit: one round trip for the batch instead of four
(BEGIN, the claim, the rows, COMMIT), and a statement is atomic on its own. Any other model
whose batch one statement can write does the same with a `ClaimingStatement` of its own (e.g.
the webhooks' fan-out to endpoints).
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, Select, Table, Uuid, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from shared.contracts.events import Envelope
from shared.core.db import Database, as_columns, insert_columns

EventT = TypeVar("EventT", bound=Envelope)
Handler = Callable[[Session, EventT], None]
# Applies several events at once, in order (fewer statements than one `Handler` call each).
BatchHandler = Callable[[Session, Sequence[EventT]], None]


@dataclass(frozen=True)
class RowPerEvent(Generic[EventT]):
    """A read model in which each event adds one row to `table`, unique on its `event_id`.

    `row(event)` gives the row's values of `columns` (`event_id` among them). A consumer of
    such a model needs no handler: it claims a batch and inserts the rows of the events it
    claimed in one statement (`EventApplier`).
    """

    table: Table
    columns: Sequence[str]
    row: Callable[[EventT], dict[str, Any]]


@dataclass(frozen=True)
class ClaimingStatement(Generic[EventT]):
    """One statement that claims a batch's event ids in `processed_event` (`ON CONFLICT DO
    NOTHING`, in id order) and writes what the claimed events make, returning the claimed ids
    (a column `event_id` of type `Uuid`). Its parameters: one array per name of `columns`, of
    the values `row(event)` gives, one event each (the first copy of each id). Run in
    autocommit, with no handler and no transaction around it."""

    statement: Executable
    columns: Sequence[str]
    row: Callable[[EventT], dict[str, Any]]


def processed_event_table(metadata: MetaData) -> Table:
    """The ids of the events a consumer has applied, in its own schema."""
    return Table(
        "processed_event",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column(
            "processed_at",
            DateTime(timezone=True),
            server_default=func.now(),
            nullable=False,
            index=True,  # `manage maintain` trims the oldest (PROCESSED_EVENT_RETENTION_DAYS)
        ),
    )


class PoisonMessageError(Exception):
    """The message is not an event this consumer can read."""


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


def parse_event(body: bytes, model: type[EventT]) -> EventT:
    """The event in a message body; `PoisonMessageError` when it is not one we can read."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise PoisonMessageError(str(exc)) from exc


class EventApplier(Generic[EventT]):
    """Applies events of type `model` with `handler` (or `batch_handler`), each once."""

    def __init__(
        self,
        *,
        model: type[EventT],
        database: Database,
        processed: Table,
        handler: Handler[EventT] | None = None,
        batch_handler: BatchHandler[EventT] | None = None,
        rows: RowPerEvent[EventT] | ClaimingStatement[EventT] | None = None,
    ) -> None:
        if (handler is None) == (rows is None):
            raise TypeError("give either a handler or the statement that writes a batch")
        self.model = model
        self.database = database
        self.processed = processed
        self.handler = handler
        self.batch_handler = batch_handler
        self._claim_statement = (
            insert_columns(processed, ["event_id"], ordered_by=["event_id"])
            .on_conflict_do_nothing()
            .returning(processed.c.event_id)
        )
        # A row-per-event model's statement: built once, like the claim's.
        if isinstance(rows, RowPerEvent):
            rows = ClaimingStatement(_claim_and_insert(processed, rows), rows.columns, rows.row)
        self._statement = rows

    def process(self, body: bytes) -> Outcome:
        """Apply one message in one transaction, unless its event was applied before."""
        return self.process_batch([parse_event(body, self.model)])[0]

    def process_batch(self, events: Sequence[EventT]) -> list[Outcome]:
        """Apply `events` in order in one transaction; each is claimed by its `event_id` first."""
        if self._statement is not None:
            return self._in_one_statement(self._statement, events)
        with self.database.sessionmaker() as session:
            claimed = self._claim(session, [event.event_id for event in events])
            fresh, outcomes = _sorted_out(events, claimed)
            if self.batch_handler is not None and fresh:
                self.batch_handler(session, fresh)
            else:
                assert self.handler is not None  # no rows: the constructor asked for a handler
                for event in fresh:
                    self.handler(session, event)
            session.commit()
        return outcomes

    def _in_one_statement(
        self, statement: ClaimingStatement[EventT], events: Sequence[EventT]
    ) -> list[Outcome]:
        """Claim `events` and write what the ones claimed make, in one autocommit statement."""
        first: dict[uuid.UUID, EventT] = {}  # one row per id: its first copy's
        for event in events:
            first.setdefault(event.event_id, event)
        values = as_columns((statement.row(event) for event in first.values()), statement.columns)
        with self.database.autocommit() as connection:
            claimed = set(connection.execute(statement.statement, values).scalars())
        return _sorted_out(events, claimed)[1]

    def _claim(self, session: Session, event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Record the ids in `processed_event`, in one statement; the ones not seen before."""
        # One array of ids (`insert_columns`), into a statement built once.
        inserted = session.execute(self._claim_statement, {"event_id": event_ids})
        return set(inserted.scalars())


def _sorted_out(
    events: Sequence[EventT], claimed: set[uuid.UUID]
) -> tuple[list[EventT], list[Outcome]]:
    """The events to apply (the first copy of each claimed id), and every event's outcome."""
    to_apply = set(claimed)
    fresh, outcomes = [], []
    for event in events:
        if event.event_id in to_apply:
            to_apply.discard(event.event_id)  # a second copy in the batch is a duplicate
            fresh.append(event)
            outcomes.append(Outcome.APPLIED)
        else:
            outcomes.append(Outcome.DUPLICATE)
    return fresh, outcomes


def _claim_and_insert(processed: Table, rows: RowPerEvent[Any]) -> Select[uuid.UUID]:
    """`WITH claimed AS (INSERT INTO processed ...), inserted AS (INSERT INTO rows.table ...
    WHERE event_id IN claimed) SELECT event_id FROM claimed`: one array parameter per column,
    the ids (`event_id`) shared by both inserts. Built once per consumer."""
    claimed = (
        insert_columns(processed, ["event_id"], ordered_by=["event_id"])
        .on_conflict_do_nothing()
        .returning(processed.c.event_id)
        .cte("claimed")
    )
    inserted = (
        insert_columns(
            rows.table,
            rows.columns,
            where=lambda new: new.c.event_id.in_(select(claimed.c.event_id)),
        )
        .on_conflict_do_nothing(index_elements=[rows.table.c.event_id])
        .cte("inserted")
    )
    return select(claimed.c.event_id).add_cte(inserted)
