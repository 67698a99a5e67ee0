"""Applying events idempotently: the database half of a consumer (`shared/consumer.py` is the
broker half).

A batch of events is applied in one transaction that first records each `event_id` in the
service's `processed_event` table (one statement for the batch): an event whose id was there
already is a duplicate and changes nothing, so a redelivered message is harmless.
"""

import uuid
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, Table, Uuid, func
from sqlalchemy.orm import Session

from shared.db import Database, insert_columns
from shared.events import Envelope

EventT = TypeVar("EventT", bound=Envelope)
Handler = Callable[[Session, EventT], None]
# Applies several events at once, in order (fewer statements than one `Handler` call each).
BatchHandler = Callable[[Session, Sequence[EventT]], None]


def processed_event_table(metadata: MetaData) -> Table:
    """The ids of the events a consumer has applied, in its own schema."""
    return Table(
        "processed_event",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
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
        handler: Handler[EventT],
        batch_handler: BatchHandler[EventT] | None = None,
    ) -> None:
        self.model = model
        self.database = database
        self.processed = processed
        self.handler = handler
        self.batch_handler = batch_handler
        self._claim_statement = (
            insert_columns(processed, ["event_id"])
            .on_conflict_do_nothing()
            .returning(processed.c.event_id)
        )

    def process(self, body: bytes) -> Outcome:
        """Apply one message in one transaction, unless its event was applied before."""
        return self.process_batch([parse_event(body, self.model)])[0]

    def process_batch(self, events: Sequence[EventT]) -> list[Outcome]:
        """Apply `events` in order in one transaction; each is claimed by its `event_id` first."""
        with self.database.sessionmaker() as session:
            claimed = self._claim(session, [event.event_id for event in events])
            fresh, outcomes = [], []
            for event in events:
                if event.event_id in claimed:
                    claimed.discard(event.event_id)  # a second copy in the batch is a duplicate
                    fresh.append(event)
                    outcomes.append(Outcome.APPLIED)
                else:
                    outcomes.append(Outcome.DUPLICATE)
            if self.batch_handler is not None and fresh:
                self.batch_handler(session, fresh)
            else:
                for event in fresh:
                    self.handler(session, event)
            session.commit()
        return outcomes

    def _claim(self, session: Session, event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Record the ids in `processed_event`, in one statement; the ones not seen before."""
        # One array of ids (`insert_columns`), into a statement built once.
        inserted = session.execute(self._claim_statement, {"event_id": event_ids})
        return set(inserted.scalars())
