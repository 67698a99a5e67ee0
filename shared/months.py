"""The `year`/`month` filter: both or neither (the current month), UTC, half-open interval."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

# 9998: the end of December 9999 would be year 10000, which Python dates cannot hold.
MIN_YEAR, MAX_YEAR = 1970, 9998


class MonthRange(BaseModel):
    """One calendar month in UTC: `start` <= t < `end`."""

    year: int
    month: int
    start: datetime
    end: datetime

    @classmethod
    def of(cls, year: int, month: int) -> "MonthRange":
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return cls(year=year, month=month, start=start, end=end)

    @classmethod
    def containing(cls, moment: datetime) -> "MonthRange":
        moment = moment.astimezone(UTC)
        return cls.of(moment.year, moment.month)


class MonthQuery(BaseModel):
    """`year` and `month` of the query string: both or neither (the current month).

    A query model: FastAPI validates its fields in one pass, and a list endpoint's own query
    model can extend it (`services/tasks/deps.py`).
    """

    year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR, description="With `month`.")
    month: int | None = Field(None, ge=1, le=12, description="With `year`.")

    def month_range(self) -> MonthRange:
        """The requested month, or the current one when neither `year` nor `month` is given."""
        year, month = self.year, self.month
        if year is None and month is None:
            return MonthRange.containing(datetime.now(UTC))
        if year is None or month is None:
            missing = "year" if year is None else "month"
            raise RequestValidationError(
                [
                    {
                        "loc": ("query", missing),
                        "msg": "year and month must be given together",
                        "type": "missing",
                    }
                ]
            )
        return MonthRange.of(year, month)


async def month_range(query: Annotated[MonthQuery, Query()]) -> MonthRange:
    """The month of `year` and `month` (see `MonthQuery`)."""
    return query.month_range()


MonthDep = Annotated[MonthRange, Depends(month_range)]
