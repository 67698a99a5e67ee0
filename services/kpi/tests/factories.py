"""Test data for the KPI service: task and user events, keyword-only, with sensible defaults.

Events are built the way the tasks service builds them: the full task in every event, the
version after the change, and for a delete the task as it was with the next version.
"""

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kpi.consumer import handle, handle_user_event
from services.kpi.models import CompletionCounter, MonthCounter, TaskState
from shared.contracts.events import (
    FieldChange,
    TaskEvent,
    TaskEventType,
    TaskSnapshot,
    TaskStatus,
    UserEvent,
)
from tests.events import create_snapshot, create_task_event, create_user_event

_task_ids = itertools.count(1)
_UNREPORTED = {"updated_at", "version"}


def create_event(
    *,
    task_id: int | None = None,
    status: TaskStatus = TaskStatus.TODO,
    assignee_id: int | None = None,
    creator_id: int = 1,
    created_at: datetime | None = None,
    due_date: datetime | None = None,
    completed_at: datetime | None = None,
    title: str = "Write the report",
) -> TaskEvent:
    """A `task.created` event (version 1); a done task is completed when it is created."""
    created_at = created_at or datetime.now(UTC)
    task = create_snapshot(
        task_id=task_id if task_id is not None else next(_task_ids),
        title=title,
        status=status,
        assignee_id=assignee_id,
        creator_id=creator_id,
        due_date=due_date,
        at=created_at,
        completed_at=completed_at,
    )
    return create_task_event(task=task)


def create_next_event(
    *,
    after: TaskEvent,
    deleted: bool = False,
    at: datetime | None = None,
    **changes: Any,
) -> TaskEvent:
    """The event after `after`: an update setting `changes`, or (`deleted`) the task's delete.

    Like the tasks service, a change of status to done sets `completed_at` to the time of the
    change (unless given), and a change away from done clears it.
    """
    at = at or after.occurred_at + timedelta(minutes=1)
    before, version = after.task, after.version + 1
    if deleted:
        return create_task_event(
            task=before, event_type=TaskEventType.DELETED, version=version, occurred_at=at
        )
    if "status" in changes and changes["status"] != before.status:
        done = changes["status"] is TaskStatus.DONE
        changes.setdefault("completed_at", at if done else None)
    task = TaskSnapshot.model_validate(
        {**before.model_dump(), **changes, "updated_at": at, "version": version}
    )
    old, new = before.model_dump(mode="json"), task.model_dump(mode="json")
    diff = {
        name: FieldChange(old=old[name], new=new[name])
        for name in new
        if name not in _UNREPORTED and old[name] != new[name]
    }
    return create_task_event(
        task=task, event_type=TaskEventType.UPDATED, version=version, occurred_at=at, changes=diff
    )


def task_state(session: Session, *, task_id: int) -> TaskState | None:
    """The stored state of a task, read afresh."""
    return session.execute(
        select(TaskState)
        .where(TaskState.task_id == task_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def month_counters(session: Session) -> dict[tuple[date, int, str], int]:
    """Every non-zero `month_counter` row, as {(month, assignee_key, status): count}."""
    rows = session.execute(
        select(
            MonthCounter.month, MonthCounter.assignee_key, MonthCounter.status, MonthCounter.count
        )
    )
    return {(month, key, status): count for month, key, status, count in rows if count}


def completion_counters(session: Session) -> dict[date, tuple[int, float]]:
    """Every `completion_counter` row not at zero, as {month: (completed, seconds)}."""
    rows = session.execute(
        select(
            CompletionCounter.month, CompletionCounter.completed, CompletionCounter.total_seconds
        )
    )
    return {month: (done, seconds) for month, done, seconds in rows if done or seconds}


def apply_events(session: Session, *events: TaskEvent) -> None:
    """Apply events as the consumer does, each in its own committed transaction."""
    for event in events:
        handle(session, event)
        session.commit()


def create_user(session: Session, *, user_id: int, username: str | None = None) -> UserEvent:
    """A user in the KPI directory, as their `user.registered` event leaves them (committed)."""
    event = create_user_event(user_id=user_id, username=username)
    handle_user_event(session, event)
    session.commit()
    return event
