"""Queries of the `logs` schema. Never commits: the caller owns the transaction."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.logs.models import ActionType, ActivityLog
from services.logs.schemas import LogFilters
from shared.core.db import table_of
from shared.web.pagination import ListQuery, filtered


def add_entry(
    session: Session,
    *,
    event_id: uuid.UUID,
    task_id: int,
    user_id: int,
    action_type: ActionType,
    detail: str,
    created_at: datetime,
) -> ActivityLog | None:
    """Insert one entry; `None` when this event has an entry already."""
    statement = (
        insert(ActivityLog)
        .values(
            event_id=event_id,
            task_id=task_id,
            user_id=user_id,
            action_type=action_type.value,
            detail=detail,
            created_at=created_at,
        )
        .on_conflict_do_nothing(index_elements=[ActivityLog.event_id])
        .returning(ActivityLog)
    )
    return session.scalars(statement).first()


# The columns of an entry as the consumer writes it (`shared.messaging.applying.RowPerEvent`).
ENTRY_COLUMNS = ["event_id", "task_id", "user_id", "action_type", "detail", "created_at"]


def entries_query(*, filters: LogFilters) -> ListQuery:
    """The columns of the entries matching `filters`, unordered."""
    equal = {
        "task_id": filters.task_id,
        "user_id": filters.user_id,
        "action_type": None if filters.action_type is None else filters.action_type.value,
    }
    return filtered(table_of(ActivityLog), period=filters.period, equal=equal)


# Newest first; every index of `activity_log` ends in this order.
SORT_KEY: list[ColumnElement[Any]] = [ActivityLog.created_at.expression, ActivityLog.id.expression]
