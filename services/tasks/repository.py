"""Queries of the `tasks` schema. Never commits: the service layer owns the transaction."""

from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, insert, select
from sqlalchemy.orm import Session

from services.tasks.models import DUE_DATE_ASC_KEY, DUE_DATE_DESC_KEY, OUTBOX, Task
from services.tasks.schemas import SortField, SortOrder, TaskFilters
from shared.contracts.events import TaskEvent
from shared.core.db import table_of
from shared.messaging import outbox
from shared.web.months import MonthRange
from shared.web.pagination import ListQuery, filtered


def get_task(session: Session, *, task_id: int, for_update: bool = False) -> Task | None:
    """The task, optionally locked until the transaction ends."""
    return session.get(Task, task_id, with_for_update=for_update)


TASK = table_of(Task)
_TASK_BY_ID = select(*TASK.c).where(TASK.c.id == bindparam("task_id"))


def read_task(connection: Connection, *, task_id: int) -> dict[str, Any] | None:
    """The task's columns by name, for an answer (no ORM object: a read tracks nothing, and
    the identity map and the object cost more than the SELECT)."""
    result = connection.execute(_TASK_BY_ID, {"task_id": task_id})
    row = result.one_or_none()
    return None if row is None else dict(zip(result.keys(), row, strict=True))


# Built once, the values bound per call: building and cache-keying the INSERT anew cost more
# than a third of what executing it does.
_TASK_VALUES = {
    column.name: bindparam(column.name, type_=column.type)
    for column in TASK.c
    if column is not TASK.c.id
}
# The task and its `task.created` event in one statement: the event's JSON gets the new id.
_INSERT_TASK_WITH_EVENT = outbox.insert_with_event(
    OUTBOX,
    insert(TASK).values(_TASK_VALUES).returning(*TASK.c),
    id_paths=[["task_id"], ["task", "id"]],
)


def insert_task_with_event(
    connection: Connection, *, values: dict[str, Any], event: TaskEvent
) -> dict[str, Any]:
    """Insert one task and its event (written with the id 0: the database puts the new id in)
    in one statement; the stored row by column name. In autocommit: one round trip, atomic."""
    result = connection.execute(_INSERT_TASK_WITH_EVENT, {**values, **outbox.event_values(event)})
    return dict(zip(result.keys(), result.one(), strict=True))


def delete_task(session: Session, *, task: Task) -> None:
    session.delete(task)
    session.flush()


def sort_key(filters: TaskFilters) -> list[ColumnElement[Any]]:
    """The columns a list is ordered by, ending in the id (unique, so the order is total)."""
    if filters.sort is SortField.DUE_DATE:
        due = DUE_DATE_ASC_KEY if filters.order is SortOrder.ASC else DUE_DATE_DESC_KEY
        return [due, Task.id.expression]
    return [getattr(Task, filters.sort.value).expression, Task.id.expression]


def tasks_query(*, month: MonthRange, filters: TaskFilters) -> ListQuery:
    """The columns of the month's tasks matching the filters, unordered."""
    equal = {
        "status": None if filters.status is None else filters.status.value,
        "assignee_id": filters.assignee_id,
        "creator_id": filters.creator_id,
    }
    return filtered(table_of(Task), period=month, equal=equal)


def add_outbox_event(session: Session, *, event: TaskEvent) -> None:
    """Store the event in the caller's transaction; the relay is woken when it commits."""
    outbox.add_event(session, OUTBOX, event=event, entity_id=event.task_id)
