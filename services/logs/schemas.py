"""Response bodies and list filters of the logs API."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from services.logs.models import ActionType
from shared.web.months import MonthRange

# Answered in UTC whatever the database session's time zone.
UtcDatetime = Annotated[datetime, AfterValidator(lambda value: value.astimezone(UTC))]


class LogEntryRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 9,
                    "task_id": 42,
                    "user_id": 7,
                    "action_type": "task_updated",
                    "detail": "Status changed to done",
                    "created_at": "2025-12-03T10:15:00Z",
                }
            ]
        },
    )

    id: int
    task_id: int
    user_id: int
    action_type: ActionType
    detail: str
    created_at: UtcDatetime


class LogFilters(BaseModel):
    """What to list, besides the page. `period` is `None` for all time (a task's history)."""

    period: MonthRange | None
    task_id: int | None = None
    user_id: int | None = None
    action_type: ActionType | None = None
