"""Task and user events as their producers publish them, for the tests of their consumers."""

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel

from shared.contracts.events import (
    FieldChange,
    TaskEvent,
    TaskEventType,
    TaskSnapshot,
    TaskStatus,
    UserEvent,
    UserEventType,
    UserSnapshot,
)
from shared.contracts.roles import Role


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
    completed_at: datetime | None = None,
    version: int = 1,
) -> TaskSnapshot:
    """A task as an event carries it, created `at`; done, it was completed then (or given)."""
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
        completed_at=(completed_at or at) if status is TaskStatus.DONE else None,
        version=version,
    )


def create_task_event(
    *,
    task: TaskSnapshot,
    event_type: TaskEventType = TaskEventType.CREATED,
    actor_id: int | None = None,
    version: int | None = None,
    occurred_at: datetime | None = None,
    changes: Mapping[str, FieldChange] | None = None,
    event_id: uuid.UUID | None = None,
) -> TaskEvent:
    """An event about `task`: by default by its creator, at its version and last update."""
    return TaskEvent(
        event_id=event_id or uuid.uuid4(),
        event_type=event_type,
        occurred_at=occurred_at or task.updated_at,
        actor_id=task.creator_id if actor_id is None else actor_id,
        task_id=task.id,
        version=task.version if version is None else version,
        task=task,
        changes=dict(changes or {}),
    )


def create_user_event(
    *,
    user_id: int = 1,
    username: str | None = None,
    role: Role = Role.USER,
    version: int = 1,
    event_type: UserEventType | None = None,
    changes: Mapping[str, FieldChange] | None = None,
    event_id: uuid.UUID | None = None,
) -> UserEvent:
    """An event about user `user_id` (`user<id>` by default) at `version`, as auth writes it:
    `user.registered` at version 1 (by the user), `user.updated` after (by no one)."""
    kind = event_type or (UserEventType.REGISTERED if version == 1 else UserEventType.UPDATED)
    return UserEvent(
        event_id=event_id or uuid.uuid4(),
        event_type=kind,
        occurred_at=datetime.now(UTC),
        actor_id=user_id if kind is UserEventType.REGISTERED else None,
        user_id=user_id,
        version=version,
        user=UserSnapshot(id=user_id, username=username or f"user{user_id}", role=role),
        changes=dict(changes or {}),
    )


def event_body(event: BaseModel) -> bytes:
    """The message body the relay would publish for `event`."""
    return event.model_dump_json().encode()
