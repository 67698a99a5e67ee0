"""Tables of the `tasks` schema: the tasks, and the outbox of their events."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, String, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import func

from shared.db import schema_metadata

SCHEMA = "tasks"
OUTBOX_CHANNEL = "tasks_outbox"  # LISTEN/NOTIFY channel that wakes the relay


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


class Task(Base):
    """A task. Users live in the auth service: `creator_id` and `assignee_id` are its ids."""

    __tablename__ = "task"
    __table_args__ = (
        CheckConstraint("status IN ('todo', 'in_progress', 'done')", name="status"),
        CheckConstraint("char_length(title) BETWEEN 1 AND 200", name="title_length"),
        CheckConstraint("char_length(description) <= 10000", name="description_length"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    assignee_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    creator_id: Mapped[int] = mapped_column(BigInteger, index=True)
    due_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column()


class OutboxEvent(Base):
    """A task event, written in the transaction of its change; kept after publishing (history)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    event_type: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[int] = mapped_column(BigInteger, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The relay only ever scans what is still unpublished.
Index(
    "ix_outbox_unpublished",
    OutboxEvent.id,
    postgresql_where=OutboxEvent.published_at.is_(None),
)
