"""Request and answer models of the hooks API."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.hooks.models import DeliveryStatus, DisabledReason, EndpointStatus
from shared.contracts.events import TaskEventType

Description = Annotated[str, Field(max_length=1000)]
Url = Annotated[str, Field(min_length=1, max_length=2000, examples=["https://example.com/hooks"])]
EventTypes = Annotated[list[TaskEventType], Field(min_length=1, max_length=3)]


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes = Field(default_factory=lambda: list(TaskEventType))
    description: Description = ""


class EndpointUpdate(BaseModel):
    """The fields to change; `disabled: false` enables a disabled endpoint again."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    disabled: bool | None = None


class EndpointRead(BaseModel):
    id: int
    url: str
    description: str
    event_types: list[str]
    status: EndpointStatus
    disabled_reason: DisabledReason | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None  # until then the old secret signs too
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointRead):
    """An endpoint just created or rotated: its secret, shown this once."""

    secret: str


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: float | None = Field(
        default=None, ge=0, le=24 * 30, description="How long the old secret still signs."
    )


class DeliveryRead(BaseModel):
    id: int
    endpoint_id: int
    event_id: uuid.UUID  # the `webhook-id`
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_attempt_at: datetime | None
    created_at: datetime


class AttemptRead(BaseModel):
    id: int
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    succeeded: bool
    error: str | None


class DeliveryDetail(DeliveryRead):
    attempts: list[AttemptRead]


class Recovery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime = Field(description="Failed deliveries of events from this time on.")


class Recovered(BaseModel):
    deliveries: int  # how many were scheduled again
