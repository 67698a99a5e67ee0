"""Queries of the `logs` schema. Never commits: the caller owns the transaction."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select, text
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


# The generation of the activity log's table: 8 hex digits of the cluster's system identifier
# and the table's oid, so a cursor of another deployment or of a table a replay replaced is
# told apart (`services/logs/cursor.py`).
GENERATION = text(
    "SELECT left(md5(system_identifier::text || ':' || 'logs.activity_log'::regclass::oid::text),"
    " 8) FROM pg_control_system()"
)
_ACTIVITY = table_of(ActivityLog)


def entries_after(session: Session, *, after: int, limit: int, filters: LogFilters) -> list[Any]:
    """Up to `limit` entries matching `filters` with an id above `after`, in id order."""
    query = entries_query(filters=filters)
    statement = query.statement.where(_ACTIVITY.c.id > bindparam("after"))
    rows = session.execute(
        statement.order_by(_ACTIVITY.c.id).limit(limit), {**query.values, "after": after}
    )
    return [row._asdict() for row in rows]


def newest_id(session: Session) -> int:
    """The highest entry id (0 when there is none)."""
    return session.scalar(select(func.coalesce(func.max(_ACTIVITY.c.id), 0))) or 0


def has_entry(session: Session, entry_id: int) -> bool:
    """Whether the entry `entry_id` is (still) in the log."""
    return session.scalar(select(_ACTIVITY.c.id).where(_ACTIVITY.c.id == entry_id)) is not None
