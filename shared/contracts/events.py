"""The event contracts: producers and consumers import these same models.

- Task events: the tasks service publishes them (exchange `tasks.events`), logs and KPI consume.
- User events: the auth service publishes them (exchange `auth.events`), tasks and KPI consume.

An event is a versioned envelope, published with its `event_type` as the routing key.
`schema_version` changes only when a consumer could no longer read the event; consumers refuse
versions they do not know (those go to the dead-letter queue).
"""

import uuid
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.contracts.roles import Role

TASK_EVENTS = "task.#"  # the binding key of every task event
USER_EVENTS = "user.#"  # the binding key of every user event


class Envelope(BaseModel):
    """What every event starts with: its id (consumers drop duplicates by it) and its type."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    event_type: str


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


class TaskEvent(Envelope):
    """The envelope of every task event."""

    event_type: TaskEventType
    schema_version: Literal[1] = 1
    occurred_at: AwareDatetime
    actor_id: int
    task_id: int
    version: int
    task: TaskSnapshot
    changes: dict[str, FieldChange] = {}


class UserEventType(StrEnum):
    REGISTERED = "user.registered"
    UPDATED = "user.updated"  # the username or the role changed


class UserSnapshot(BaseModel):
    """A user's public facts after the change. The email stays private to auth."""

    model_config = ConfigDict(frozen=True)

    id: int
    username: str
    role: Role


class UserEvent(Envelope):
    """The envelope of every user event; `version` is the user's version after the change."""

    event_type: UserEventType
    schema_version: Literal[1] = 1
    occurred_at: AwareDatetime
    actor_id: int | None  # None: an operator's command or the upgrade's backfill
    user_id: int
    version: int
    user: UserSnapshot
    changes: dict[str, FieldChange] = {}
