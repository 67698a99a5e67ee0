"""The task event contract: the tasks service publishes it, the logs and KPI services consume it.

An event is a versioned envelope. `schema_version` changes only when a consumer could no longer
read the event; consumers refuse versions they do not know (those go to the dead-letter queue).
"""

import uuid
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict


class TaskStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class TaskEventType(StrEnum):
    CREATED = "task.created"
    UPDATED = "task.updated"
    DELETED = "task.deleted"


class TaskSnapshot(BaseModel):
    """A task as it stood after the change (before it, for a delete)."""

    model_config = ConfigDict(frozen=True)

    id: int
    title: str
    description: str | None
    status: TaskStatus
    assignee_id: int | None
    creator_id: int
    due_date: AwareDatetime | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    completed_at: AwareDatetime | None
    version: int


class FieldChange(BaseModel):
    """One changed field of an update, in its JSON form."""

    model_config = ConfigDict(frozen=True)

    old: Any
    new: Any


class TaskEvent(BaseModel):
    """The envelope of every task event."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    event_type: TaskEventType
    schema_version: Literal[1] = 1
    occurred_at: AwareDatetime
    actor_id: int
    task_id: int
    version: int
    task: TaskSnapshot
    changes: dict[str, FieldChange] = {}
