"""Request and response bodies of the tasks API."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from shared.contracts.events import TaskStatus
from shared.web.ids import Id
from shared.web.text import NO_NUL


def _as_utc(value: datetime) -> datetime:
    """A naive datetime means UTC."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise ValueError("the date is out of range in UTC") from exc


def _text_only(value: object) -> object:
    """A time is an ISO 8601 string (or a datetime in Python), never a number of seconds."""
    if not isinstance(value, str | datetime):
        raise ValueError("expected an ISO 8601 date and time, e.g. 2030-01-31T12:00:00Z")
    return value


def _blank_is_none(text: str) -> str | None:
    return text or None


Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
# Blank means none: "" and null are the same description.
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=10_000, pattern=NO_NUL),
    AfterValidator(_blank_is_none),
]
DueDate = Annotated[datetime, BeforeValidator(_text_only), AfterValidator(_as_utc)]


def _not_in_the_future(value: datetime | None) -> datetime | None:
    if value is not None and value > datetime.now(UTC):
        raise ValueError("cannot be in the future")
    return value


class TaskCreate(BaseModel):
    """A new task. `created_at` and `completed_at` are for admins importing history only."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Write the report",
                    "description": "Two pages",
                    "status": "in_progress",
                    "due_date": "2030-01-31T12:00:00Z",
                }
            ]
        },
    )

    title: Title
    description: Description | None = None
    status: TaskStatus = TaskStatus.TODO
    assignee_id: Id | None = None
    due_date: DueDate | None = None
    created_at: DueDate | None = None
    completed_at: DueDate | None = None

    _created_not_in_the_future = field_validator("created_at")(_not_in_the_future)

    @field_validator("completed_at")
    @classmethod
    def _completed_after_created(
        cls, value: datetime | None, info: ValidationInfo
    ) -> datetime | None:
        if value is None:
            return value
        if info.data.get("status") is not TaskStatus.DONE:
            raise ValueError("only for a task created as done")
        created_at = info.data.get("created_at") or datetime.now(UTC)
        if not created_at <= value <= datetime.now(UTC):
            raise ValueError("must lie between created_at and now")
        return value

    @property
    def imports_history(self) -> bool:
        return self.created_at is not None or self.completed_at is not None


def _update_schema(schema: dict[str, Any]) -> None:
    """`title` and `status` may be left out but not null: say so in the JSON schema too."""
    for name in ("title", "status"):
        field = schema["properties"][name]
        choices = [choice for choice in field.pop("anyOf") if choice != {"type": "null"}]
        field.update(choices[0])
        del field["default"]
    schema["examples"] = [{"status": "done"}]


class TaskUpdate(BaseModel):
    """The fields to change; a field left out stays as it is, `null` clears an optional one.

    `changed_at` is for admins importing history only: when the change happened (default now).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_update_schema,
    )

    title: Title | None = None
    description: Description | None = None
    status: TaskStatus | None = None
    assignee_id: Id | None = None
    due_date: DueDate | None = None
    changed_at: DueDate | None = None

    _changed_not_in_the_future = field_validator("changed_at")(_not_in_the_future)

    @field_validator("title", "status")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Defaults are not validated, so this only refuses an explicit null.
        if value is None:
            raise ValueError("cannot be null")
        return value

    def changes(self) -> dict[str, object]:
        """Only the task's fields the client sent."""
        return {name: getattr(self, name) for name in self.model_fields_set - {"changed_at"}}


class TaskRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "title": "Write the report",
                    "description": "Two pages",
                    "status": "done",
                    "assignee_id": 7,
                    "creator_id": 3,
                    "due_date": "2030-01-31T12:00:00Z",
                    "created_at": "2025-12-01T09:00:00Z",
                    "updated_at": "2025-12-03T10:15:00Z",
                    "completed_at": "2025-12-03T10:15:00Z",
                    "version": 3,
                }
            ]
        },
    )

    id: int
    title: str
    description: str | None
    status: TaskStatus
    assignee_id: int | None
    creator_id: int
    due_date: datetime | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    version: int


class SortField(StrEnum):
    CREATED_AT = "created_at"
    DUE_DATE = "due_date"
    UPDATED_AT = "updated_at"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class TaskFilters(BaseModel):
    """List filters and ordering, besides the month and the page."""

    status: TaskStatus | None = None
    assignee_id: int | None = None
    creator_id: int | None = None
    sort: SortField = SortField.CREATED_AT
    order: SortOrder = SortOrder.DESC
