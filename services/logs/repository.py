"""Queries of the `logs` schema. Never commits: the caller owns the transaction."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.logs.models import ActionType, ActivityLog
from services.logs.schemas import LogFilters
from shared.db import table_of


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


def add_entries(session: Session, *, entries: list[dict[str, Any]]) -> None:
    """Insert several entries in one statement; an event that has an entry already is skipped."""
    # Parameters as a list (compiled once, sent as one multi-row INSERT), on the table itself:
    # the rows need no ORM objects.
    table = table_of(ActivityLog)
    session.execute(
        insert(table).on_conflict_do_nothing(index_elements=[table.c.event_id]), entries
    )


def entries_query(*, filters: LogFilters) -> Select[Any]:
    """The columns of the entries matching `filters`, unordered."""
    conditions: list[ColumnElement[bool]] = []
    if (period := filters.period) is not None:
        conditions += [ActivityLog.created_at >= period.start, ActivityLog.created_at < period.end]
    if filters.task_id is not None:
        conditions.append(ActivityLog.task_id == filters.task_id)
    if filters.user_id is not None:
        conditions.append(ActivityLog.user_id == filters.user_id)
    if filters.action_type is not None:
        conditions.append(ActivityLog.action_type == filters.action_type.value)
    return select(*table_of(ActivityLog).c).where(*conditions)


# Newest first; every index of `activity_log` ends in this order.
SORT_KEY: list[ColumnElement[Any]] = [ActivityLog.created_at.expression, ActivityLog.id.expression]
