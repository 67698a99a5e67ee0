"""The window of the flow metrics (local days in a zone) and their response bodies."""

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, computed_field

from services.kpi import flow
from shared.web.months import local_midnight, zone

MAX_WINDOW_DAYS = 366


class Per(StrEnum):
    DAY = "day"
    WEEK = "week"  # Monday to Sunday
    MONTH = "month"


class FlowWindow(BaseModel):
    """The local days `first`..`last` (both included) in the zone `tz`."""

    first: date
    last: date
    tz: str = "UTC"

    def _midnight(self, day: date) -> datetime:
        return local_midnight(day.year, day.month, day.day, zone(self.tz))

    @property
    def start(self) -> datetime:
        """The window's first instant, in UTC."""
        return self._midnight(self.first)

    @property
    def end(self) -> datetime:
        """The instant after the window, in UTC."""
        return self._midnight(self.last + timedelta(days=1))

    def info(self) -> dict[str, Any]:
        """The fields every answer starts with."""
        return {"start": self.first, "end": self.last, "tz": self.tz}

    def days(self) -> Iterator[tuple[date, datetime, datetime]]:
        """Each local day, with its first instant and the next day's, in UTC."""
        for first, _, start, end in self.periods(Per.DAY):
            yield first, start, end

    def periods(self, per: str) -> list[tuple[date, date, datetime, datetime]]:
        """(first day, last day, start, end) of each calendar period, clipped to the window."""
        periods, day = [], self.first
        while day <= self.last:
            after = _period_end(day, Per(per))
            last = min(after - timedelta(days=1), self.last)
            periods.append((day, last, self._midnight(day), self._midnight(last + timedelta(1))))
            day = last + timedelta(days=1)
        return periods


def _period_end(day: date, per: Per) -> date:
    """The first day of the period after the one `day` is in."""
    if per is Per.DAY:
        return day + timedelta(days=1)
    if per is Per.WEEK:
        return day + timedelta(days=7 - day.weekday())
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


class Window(BaseModel):
    """The local days of the answer, both included, and their zone."""

    start: date
    end: date
    tz: str


class TimeStats(BaseModel):
    """A distribution of durations; percentiles within 1% (`services/kpi/flow.py`)."""

    count: int
    mean_seconds: float | None = None
    p50_seconds: float | None = None
    p85_seconds: float | None = None
    p95_seconds: float | None = None


class AssigneeTimes(BaseModel):
    """One assignee's completions (by the assignee at completion); null id: unassigned."""

    assignee_id: int | None
    username: str | None
    cycle: TimeStats
    lead: TimeStats


class FlowTimes(Window):
    """Cycle and lead time of the tasks completed in the window."""

    cycle: TimeStats
    lead: TimeStats
    by_assignee: list[AssigneeTimes] | None = Field(None, description="With `by_assignee`.")


class PeriodCount(BaseModel):
    start: date
    end: date
    completed: int


class Throughput(Window):
    per: str
    items: list[PeriodCount]


class WipDay(BaseModel):
    day: date
    in_progress: int


class WorkInProgress(Window):
    items: list[WipDay]


class FlowDay(BaseModel):
    """The count of live tasks in each status at the end of `day`."""

    day: date
    todo: int
    in_progress: int
    done: int


class CumulativeFlow(Window):
    items: list[FlowDay]


class AgeingTask(BaseModel):
    task_id: int
    assignee_id: int | None
    started_at: datetime
    age_seconds: float


class AgeingWork(Window):
    """Tasks in progress at `as_of` for longer than the window's p85 cycle time."""

    as_of: datetime
    threshold_seconds: float | None
    items: list[AgeingTask]


class CompletedTask(BaseModel):
    """A task completed in the window (and done now), with its lead and cycle time."""

    task_id: int
    assignee_id: int | None
    created_at: datetime
    started_at: datetime | None = Field(description="First move to in_progress; null if never.")
    completed_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def lead_seconds(self) -> float:
        return flow.lead_seconds(self.created_at, self.completed_at)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cycle_seconds(self) -> float | None:
        """Null for a task never in progress."""
        if self.started_at is None:
            return None
        return flow.cycle_seconds(self.started_at, self.completed_at)
