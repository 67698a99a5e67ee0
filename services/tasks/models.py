"""Tables of the `tasks` schema: the tasks, the outbox of their events, the user directory."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import func, text

from shared.core.db import schema_metadata
from shared.messaging.applying import processed_event_table
from shared.messaging.directory import user_table
from shared.messaging.outbox import Outbox

SCHEMA = "tasks"


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
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    creator_id: Mapped[int] = mapped_column(BigInteger)
    due_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column()


# The list (`GET /tasks/`) is always one month of `created_at`, in one of its sort orders; each
# index below serves one filter or one order as a single range scan, read forwards or backwards
# from the cursor, so a page costs the same at any depth and in any month size.
Index("ix_task_created_at_id", Task.created_at, Task.id)
Index("ix_task_updated_at_id", Task.updated_at, Task.id)
Index("ix_task_status_created_at_id", Task.status, Task.created_at, Task.id)
Index("ix_task_assignee_id_created_at_id", Task.assignee_id, Task.created_at, Task.id)
Index("ix_task_creator_id_created_at_id", Task.creator_id, Task.created_at, Task.id)
# The due-date orders put tasks without a due date last either way: as if due at the end of
# time (ascending) or at its beginning (descending). The list sorts by these very expressions,
# so the planner matches them to their indexes.
DUE_DATE_ASC_KEY = func.coalesce(Task.due_date, text("TIMESTAMPTZ '9999-12-31 23:59:59+00'"))
DUE_DATE_DESC_KEY = func.coalesce(Task.due_date, text("TIMESTAMPTZ '0001-01-01 00:00:00+00'"))
Index("ix_task_due_date_asc_id", DUE_DATE_ASC_KEY, Task.id)
Index("ix_task_due_date_desc_id", DUE_DATE_DESC_KEY, Task.id)

# The relay is woken on the channel `tasks_outbox` (LISTEN/NOTIFY).
OUTBOX = Outbox.define(Base.metadata, entity_id="task_id", channel="tasks_outbox")


class OutboxEvent(Base):
    """A task event, written in the transaction of its change; kept after publishing (history)."""

    __table__ = OUTBOX.table

    id: Mapped[int]
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str]
    task_id: Mapped[int]
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


# The users tasks has heard of (from auth's user events, or a look-up at auth on a miss), and
# the user events already applied to it.
user_directory = user_table(Base.metadata)
processed_event = processed_event_table(Base.metadata)
