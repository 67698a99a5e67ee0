"""Test data for the logs service: keyword-only helpers with sensible defaults."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.logs import repository
from services.logs.models import ActionType, ActivityLog
from shared.events import FieldChange, TaskEvent, TaskEventType, TaskSnapshot, TaskStatus


def create_snapshot(
    *,
    task_id: int = 1,
    title: str = "Write the report",
    description: str | None = None,
    status: TaskStatus = TaskStatus.TODO,
    assignee_id: int | None = None,
    creator_id: int = 1,
    due_date: datetime | None = None,
    at: datetime | None = None,
    version: int = 1,
) -> TaskSnapshot:
    """A task as an event carries it."""
    at = at or datetime.now(UTC)
    return TaskSnapshot(
        id=task_id,
        title=title,
        description=description,
        status=status,
        assignee_id=assignee_id,
        creator_id=creator_id,
        due_date=due_date,
        created_at=at,
        updated_at=at,
        completed_at=at if status is TaskStatus.DONE else None,
        version=version,
    )


def create_event(
    *,
    event_type: TaskEventType = TaskEventType.CREATED,
    task_id: int = 1,
    actor_id: int = 1,
    title: str = "Write the report",
    occurred_at: datetime | None = None,
    changes: dict[str, tuple[Any, Any]] | None = None,
    version: int = 1,
    event_id: uuid.UUID | None = None,
) -> TaskEvent:
    """A task event; `changes` maps a field to its (old, new) JSON values."""
    occurred_at = occurred_at or datetime.now(UTC)
    return TaskEvent(
        event_id=event_id or uuid.uuid4(),
        event_type=event_type,
        occurred_at=occurred_at,
        actor_id=actor_id,
        task_id=task_id,
        version=version,
        task=create_snapshot(task_id=task_id, title=title, at=occurred_at, version=version),
        changes={
            name: FieldChange(old=old, new=new) for name, (old, new) in (changes or {}).items()
        },
    )


def create_log_entry(
    session: Session,
    *,
    task_id: int = 1,
    user_id: int = 1,
    action_type: ActionType = ActionType.TASK_CREATED,
    detail: str = 'Task "Write the report" created',
    created_at: datetime | None = None,
) -> ActivityLog:
    """An entry stored in the test transaction, as if its event had been consumed."""
    entry = repository.add_entry(
        session,
        event_id=uuid.uuid4(),
        task_id=task_id,
        user_id=user_id,
        action_type=action_type,
        detail=detail,
        created_at=created_at or datetime.now(UTC),
    )
    assert entry is not None
    return entry


def committed_entries(engine: Engine) -> list[ActivityLog]:
    """Every committed entry, oldest first (read in a connection of its own)."""
    with Session(engine) as session:
        query = select(ActivityLog).order_by(ActivityLog.created_at, ActivityLog.id)
        return list(session.scalars(query))
