"""Tables of the `logs` schema: the activity log, and the events already applied to it."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.logs.ordering import keep_commit_order
from shared.core.db import schema_metadata, table_of
from shared.messaging.applying import processed_event_table

SCHEMA = "logs"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


class ActionType(StrEnum):
    TASK_CREATED = "task_created"
    TASK_UPDATED = "task_updated"
    TASK_DELETED = "task_deleted"


class ActivityLog(Base):
    """One task event, as a sentence: who did what to which task, and when."""

    __tablename__ = "activity_log"
    __table_args__ = (
        CheckConstraint(
            "action_type IN ('task_created', 'task_updated', 'task_deleted')", name="action_type"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    task_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)  # the event's actor
    action_type: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the event's time


# Every list is newest first (created_at desc, id desc): each index ends in that order, so a
# filter plus the month (or a task's whole history) is one index range, read backwards.
Index("ix_activity_log_created_at", ActivityLog.created_at, ActivityLog.id)
Index("ix_activity_log_task_id", ActivityLog.task_id, ActivityLog.created_at, ActivityLog.id)
Index("ix_activity_log_user_id", ActivityLog.user_id, ActivityLog.created_at, ActivityLog.id)
Index(
    "ix_activity_log_action_type",
    ActivityLog.action_type,
    ActivityLog.created_at,
    ActivityLog.id,
)

# Inserts in commit order, announced after commit (its twins too: a replay's shadow).
keep_commit_order(table_of(ActivityLog))

processed_event = processed_event_table(Base.metadata)
