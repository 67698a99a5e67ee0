"""Queries of the `tasks` schema. Never commits: the service layer owns the transaction."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select, text
from sqlalchemy.orm import Session

from services.tasks.models import OUTBOX, Task
from services.tasks.schemas import SortField, SortOrder, TaskFilters
from shared import outbox
from shared.events import TaskEvent
from shared.months import MonthRange


def get_task(session: Session, *, task_id: int, for_update: bool = False) -> Task | None:
    """The task, optionally locked until the transaction ends."""
    return session.get(Task, task_id, with_for_update=for_update)


def add_task(session: Session, *, task: Task) -> Task:
    session.add(task)
    session.flush()
    return task


def delete_task(session: Session, *, task: Task) -> None:
    session.delete(task)
    session.flush()


# Tasks without a due date sort last either way: as if due at the end of time (ascending) or at
# its beginning (descending). The same expressions are indexed (migration 0002).
NO_DUE_DATE_LAST: dict[SortOrder, ColumnElement[datetime]] = {
    SortOrder.ASC: literal_column("TIMESTAMPTZ '9999-12-31 23:59:59+00'"),
    SortOrder.DESC: literal_column("TIMESTAMPTZ '0001-01-01 00:00:00+00'"),
}


def sort_key(filters: TaskFilters) -> list[ColumnElement[Any]]:
    """The columns a list is ordered by, ending in the id (unique, so the order is total)."""
    if filters.sort is SortField.DUE_DATE:
        due = func.coalesce(Task.due_date, NO_DUE_DATE_LAST[filters.order])
        return [due, Task.id.expression]
    return [getattr(Task, filters.sort.value).expression, Task.id.expression]


def sort_values(task: Any, filters: TaskFilters) -> tuple[Any, ...]:
    """The values of `sort_key` for one task (for the next page's cursor)."""
    if filters.sort is SortField.DUE_DATE:
        due = task.due_date or _NO_DUE_DATE[filters.order]
        return due, task.id
    return getattr(task, filters.sort.value), task.id


_NO_DUE_DATE = {
    SortOrder.ASC: datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    SortOrder.DESC: datetime(1, 1, 1, tzinfo=UTC),
}


def tasks_query(*, month: MonthRange, filters: TaskFilters) -> Select[Any]:
    """The columns of the month's tasks matching the filters, unordered."""
    conditions: list[ColumnElement[bool]] = [
        Task.created_at >= month.start,
        Task.created_at < month.end,
    ]
    if filters.status is not None:
        conditions.append(Task.status == filters.status.value)
    if filters.assignee_id is not None:
        conditions.append(Task.assignee_id == filters.assignee_id)
    if filters.creator_id is not None:
        conditions.append(Task.creator_id == filters.creator_id)
    return select(*Task.__table__.c).where(*conditions)


def add_outbox_event(session: Session, *, event: TaskEvent) -> None:
    """Store the event in the caller's transaction; the relay is woken when it commits."""
    outbox.add_event(session, OUTBOX, event=event, entity_id=event.task_id)


def truncate_user_directory(session: Session) -> None:
    """Empty the user directory and its processed events, so a replay rebuilds them."""
    # TRUNCATE waits for every open transaction on these tables: fail rather than hang.
    session.execute(text("SET LOCAL lock_timeout = '30s'"))
    session.execute(text("TRUNCATE tasks.user, tasks.processed_event"))
