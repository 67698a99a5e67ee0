"""Queries of the `tasks` schema. Never commits: the service layer owns the transaction."""

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from services.tasks.models import OUTBOX, Task
from services.tasks.schemas import SortOrder, TaskFilters
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


def list_tasks(
    session: Session, *, month: MonthRange, filters: TaskFilters, offset: int, limit: int
) -> tuple[list[Task], int]:
    """A page of the month's tasks matching the filters, and how many match in all."""
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
    total = session.scalar(select(func.count()).select_from(Task).where(*conditions)) or 0
    column = getattr(Task, filters.sort.value)
    if filters.order is SortOrder.ASC:
        ordering = [column.asc().nulls_last(), Task.id.asc()]
    else:
        ordering = [column.desc().nulls_last(), Task.id.desc()]
    tasks = session.scalars(
        select(Task).where(*conditions).order_by(*ordering).offset(offset).limit(limit)
    ).all()
    return list(tasks), total


def add_outbox_event(session: Session, *, event: TaskEvent) -> None:
    """Store the event in the caller's transaction; the relay is woken when it commits."""
    outbox.add_event(session, OUTBOX, event=event, entity_id=event.task_id)


def truncate_user_directory(session: Session) -> None:
    """Empty the user directory and its processed events, so a replay rebuilds them."""
    # TRUNCATE waits for every open transaction on these tables: fail rather than hang.
    session.execute(text("SET LOCAL lock_timeout = '30s'"))
    session.execute(text("TRUNCATE tasks.user, tasks.processed_event"))
