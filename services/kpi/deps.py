"""Dependencies of the KPI routes, as `Annotated` aliases."""

import re
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from services.kpi.flow_schemas import MAX_WINDOW_DAYS, FlowWindow
from services.kpi.schemas import MAX_TREND_MONTHS, MonthSpan, month_count
from shared.web.months import MAX_YEAR, MIN_YEAR, TZ_DESCRIPTION, TimeZoneName, zone
from shared.web.query import query_model

# YYYY-MM from MIN_YEAR-01 to MAX_YEAR-12 (1970..9998), ASCII digits only: the parameters'
# schema in the OpenAPI document too, so a generated client knows what is valid.
_YEAR = r"(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
MONTH_PATTERN = rf"^{_YEAR}-(0[1-9]|1[0-2])$"
# YYYY-MM-DD in the same years: the flow window's days.
DAY_PATTERN = rf"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_MONTH = re.compile(MONTH_PATTERN)
_MONTH_FORMAT = f"Expected a month as YYYY-MM, from {MIN_YEAR}-01 to {MAX_YEAR}-12."


def _parse_month(value: str) -> date | None:
    match = _MONTH.fullmatch(value)
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def _error(field: str, message: str) -> dict[str, Any]:
    return {"loc": ("query", field), "msg": message, "type": "value_error"}


def _month_field(alias: str, example: str) -> Any:
    return Field(
        alias=alias,
        max_length=16,
        description="YYYY-MM, included.",
        examples=[example],
        json_schema_extra={"pattern": MONTH_PATTERN},
    )


class MonthSpanQuery(BaseModel):
    """`from`, `to` and `tz` of the query string (a query model: read in one validation)."""

    first: str = _month_field("from", "2025-01")
    last: str = _month_field("to", "2025-12")
    tz: TimeZoneName = Field("UTC", description=TZ_DESCRIPTION)

    def month_span(self) -> MonthSpan:
        """The months `from`..`to` in `tz`: `from` <= `to`, at most 120 months."""
        zone(self.tz)
        start, end = _parse_month(self.first), _parse_month(self.last)
        errors = [
            _error(name, _MONTH_FORMAT)
            for name, month in (("from", start), ("to", end))
            if not month
        ]
        if start is not None and end is not None:
            if end < start:
                errors.append(_error("to", "Must not be before `from`."))
            elif month_count(start, end) > MAX_TREND_MONTHS:
                errors.append(_error("to", f"At most {MAX_TREND_MONTHS} months from `from`."))
        if errors or start is None or end is None:
            raise RequestValidationError(errors)
        return MonthSpan(first=start, last=end, tz=self.tz)


MonthSpanDep = Annotated[MonthSpan, Depends(query_model(MonthSpanQuery, MonthSpanQuery.month_span))]


def _day_query(alias: str, description: str) -> Any:
    return Query(alias=alias, description=description, json_schema_extra={"pattern": DAY_PATTERN})


async def flow_window(
    first: Annotated[date, _day_query("from", "First local day (YYYY-MM-DD), included.")],
    last: Annotated[date, _day_query("to", "Last local day (YYYY-MM-DD), included.")],
    tz: Annotated[TimeZoneName, Query(description=TZ_DESCRIPTION)] = "UTC",
) -> FlowWindow:
    """The local days `from`..`to` in `tz`: `from` <= `to`, at most 366 days."""
    zone(tz)
    if last < first:
        raise RequestValidationError([_error("to", "Must not be before `from`.")])
    if (last - first).days >= MAX_WINDOW_DAYS:
        raise RequestValidationError([_error("to", f"At most {MAX_WINDOW_DAYS} days.")])
    if first.year < MIN_YEAR or last.year > MAX_YEAR:
        raise RequestValidationError([_error("from", f"Years {MIN_YEAR} to {MAX_YEAR} only.")])
    return FlowWindow(first=first, last=last, tz=tz)


FlowWindowDep = Annotated[FlowWindow, Depends(flow_window)]
