"""Response bodies of the KPI API, and the month span of the trend."""

from collections.abc import Iterator
from datetime import date

from pydantic import BaseModel, ConfigDict

MAX_TREND_MONTHS = 120


class MonthSpan(BaseModel):
    """The months from `first` to `last`, both included (each the first day of its month)."""

    first: date
    last: date
    tz: str = "UTC"

    def months(self) -> Iterator[date]:
        """Every month of the span, in order."""
        month = self.first
        while month <= self.last:
            yield month
            month = next_month(month)


def next_month(month: date) -> date:
    """The first day of the month after `month`."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_count(first: date, last: date) -> int:
    """How many months `first`..`last` spans, both included."""
    return (last.year - first.year) * 12 + last.month - first.month + 1


class CompletionRate(BaseModel):
    """Tasks created in the month, and how many of them are done."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "year": 2025,
                    "month": 12,
                    "total_tasks": 40,
                    "completed_tasks": 30,
                    "completion_rate": 0.75,
                }
            ]
        }
    )

    year: int
    month: int
    total_tasks: int
    completed_tasks: int
    completion_rate: float


class UserKpi(BaseModel):
    """One assignee's tasks created in the month; `assignee_id` null: the unassigned ones."""

    assignee_id: int | None
    username: str | None
    total: int
    done: int
    in_progress: int
    todo: int
    completion_rate: float


class ByUserKpi(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "year": 2025,
                    "month": 12,
                    "items": [
                        {
                            "assignee_id": 7,
                            "username": "ada",
                            "total": 4,
                            "done": 3,
                            "in_progress": 1,
                            "todo": 0,
                            "completion_rate": 0.75,
                        }
                    ],
                }
            ]
        }
    )
    year: int
    month: int
    items: list[UserKpi]


class MonthCounts(BaseModel):
    """The month's tasks (by created month) by status, and the completions in the month."""

    year: int
    month: int
    total: int
    todo: int
    in_progress: int
    done: int
    completed_in_month: int


# The example month of the answers' examples.
_EXAMPLE_COUNTS = {
    "year": 2025,
    "month": 12,
    "total": 40,
    "todo": 4,
    "in_progress": 6,
    "done": 30,
    "completed_in_month": 28,
}


class MonthlyKpi(MonthCounts):
    """The month's counts, its overdue tasks and the mean time to completion."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{**_EXAMPLE_COUNTS, "overdue": 2, "avg_completion_seconds": 172800.0}]
        }
    )

    overdue: int
    avg_completion_seconds: float | None


class TrendPoint(MonthCounts):
    completion_rate: float


class Trend(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [{**_EXAMPLE_COUNTS, "completion_rate": 0.75}]}]}
    )
    items: list[TrendPoint]
