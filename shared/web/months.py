"""The `year`/`month` filter: both or neither (the current month), in the zone `tz` (UTC by
default), as a half-open interval of UTC instants.

`tz` is an IANA zone name, one of the `tzdata` package's (`zone_names`; read through `zoneinfo`):
a month in `Asia/Kathmandu` starts at 18:15 UTC on the previous month's last day. An unknown
zone is a 422 naming `tz`.
"""

import functools
from datetime import UTC, datetime, tzinfo
from importlib.resources import files
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, WithJsonSchema

from shared.web.query import query_model

# 9998: the end of December 9999 would be year 10000, which Python dates cannot hold.
MIN_YEAR, MAX_YEAR = 1970, 9998
TZ_DESCRIPTION = "IANA time zone of the day and month boundaries (e.g. Asia/Kathmandu)."


TIME_ZONE_SCHEMA_REF = "#/components/schemas/TimeZone"


@functools.cache
def zone_names() -> tuple[str, ...]:
    """The zone names `tz` accepts: those of the `tzdata` package (pinned in `uv.lock`), not
    whatever the machine's own zone database holds, so that the API and its OpenAPI document
    (`time_zone_schema`) are the same on every machine."""
    return tuple(sorted(files("tzdata").joinpath("zones").read_text().split()))


def time_zone_schema() -> dict[str, Any]:
    """The OpenAPI schema `TimeZone`: every name `tz` accepts, so a client knows them."""
    return {
        "type": "string",
        "title": "TimeZone",
        "description": "An IANA time zone name.",
        "enum": list(zone_names()),
        "examples": ["Asia/Tokyo"],
    }


# A `tz` parameter: a string validated by `zone` (a 422 naming `tz`), documented as `TimeZone`.
TimeZoneName = Annotated[
    str,
    Field(max_length=64),
    WithJsonSchema({"$ref": TIME_ZONE_SCHEMA_REF, "default": "UTC"}),
]


def zone(name: str) -> tzinfo:
    """The zone named `name`; a 422 naming `tz` when there is none by that name."""
    if name == "UTC":
        return UTC
    if name in _zone_name_set():
        return ZoneInfo(name)
    raise RequestValidationError(
        [
            {
                "loc": ("query", "tz"),
                "msg": f"Unknown time zone {name[:64]!r}: expected an IANA name such as"
                " Europe/Paris or UTC.",
                "type": "value_error",
            }
        ]
    )


@functools.cache
def _zone_name_set() -> frozenset[str]:
    return frozenset(zone_names())


def local_midnight(year: int, month: int, day: int, tz: tzinfo) -> datetime:
    """The first instant of that local day in `tz`, in UTC (a day may start at 01:00 by DST)."""
    # fold=0 (PEP 495): an ambiguous midnight is its first occurrence, and a midnight skipped by
    # a DST gap maps to the first instant after the gap: both the start of that local day.
    return datetime(year, month, day, tzinfo=tz).astimezone(UTC)


class MonthRange(BaseModel):
    """One calendar month in the zone `tz`: `start` <= t < `end`, both in UTC."""

    year: int
    month: int
    start: datetime
    end: datetime
    tz: str = "UTC"

    @classmethod
    def of(cls, year: int, month: int, tz: str = "UTC") -> "MonthRange":
        zone_info = zone(tz)
        start = local_midnight(year, month, 1, zone_info)
        end = local_midnight(year + month // 12, month % 12 + 1, 1, zone_info)
        return cls(year=year, month=month, start=start, end=end, tz=tz)

    @classmethod
    def containing(cls, moment: datetime, tz: str = "UTC") -> "MonthRange":
        local = moment.astimezone(zone(tz))
        return cls.of(local.year, local.month, tz)

    @property
    def utc_aligned(self) -> bool:
        """Whether the month is the UTC calendar month (so UTC-month counters answer it)."""
        if self.tz == "UTC":
            return True
        start = datetime(self.year, self.month, 1, tzinfo=UTC)
        end = datetime(self.year + self.month // 12, self.month % 12 + 1, 1, tzinfo=UTC)
        return self.start == start and self.end == end


class MonthQuery(BaseModel):
    """`year` and `month` of the query string: both or neither (the current month), and `tz`.

    A query model: FastAPI validates its fields in one pass, and a list endpoint's own query
    model can extend it (`services/tasks/deps.py`).
    """

    year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR, description="With `month`.")
    month: int | None = Field(None, ge=1, le=12, description="With `year`.")
    tz: TimeZoneName = Field("UTC", description=TZ_DESCRIPTION)

    def month_range(self) -> MonthRange:
        """The requested month, or the current one when neither `year` nor `month` is given."""
        year, month = self.year, self.month
        zone(self.tz)  # an unknown zone is the first error
        if year is None and month is None:
            return MonthRange.containing(datetime.now(UTC), self.tz)
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
        return MonthRange.of(year, month, self.tz)


# The month of `year` and `month` (see `MonthQuery`), read in one validation.
month_range = query_model(MonthQuery, MonthQuery.month_range)


MonthDep = Annotated[MonthRange, Depends(month_range)]
