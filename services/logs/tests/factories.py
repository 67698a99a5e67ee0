"""Test data for the logs service: keyword-only helpers with sensible defaults."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.logs import repository
from services.logs.models import ActionType, ActivityLog
from shared.contracts.events import FieldChange, TaskEvent, TaskEventType
from tests.events import create_snapshot, create_task_event


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
    return create_task_event(
        task=create_snapshot(task_id=task_id, title=title, at=occurred_at, version=version),
        event_type=event_type,
        actor_id=actor_id,
        changes={
            name: FieldChange(old=old, new=new) for name, (old, new) in (changes or {}).items()
        },
        event_id=event_id,
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
