"""The periods the flow aggregates are kept by, and how a window of time is read from them.

Every fact (a completion, a task entering or leaving a status) is added at three levels: its
UTC quarter hour (`q`), its UTC day (`d`) and its UTC month (`m`). Every zone's offset is a
whole number of quarter hours, so any zone's day or month is a union of quarter hours; `cover`
splits a window into at most five ranges (quarter hours up to a UTC day, days up to a UTC
month, whole months, days, quarter hours), so a window reads at most about 2 x 95 quarter-hour
rows, 2 x 30 day rows and one row per month, per key, whatever the number of tasks.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

QUARTER = timedelta(minutes=15)
DAY = timedelta(days=1)
# Before any task: the start of the prefix whose sum is a status count at an instant.
ORIGIN = datetime(1, 1, 1, tzinfo=UTC)
LEVELS = ("q", "d", "m")


@dataclass(frozen=True)
class Piece:
    """The rows of `level` whose period starts in [`start`, `end`)."""

    level: str
    start: datetime
    end: datetime


def floor_quarter(moment: datetime) -> datetime:
    """The start of the UTC quarter hour of `moment`."""
    utc = moment.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    """The start of the UTC day of `moment`."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def floor_month(moment: datetime) -> datetime:
    """The start of the UTC month of `moment`."""
    return floor_day(moment).replace(day=1)


def next_month(month: datetime) -> datetime:
    """The start of the UTC month after the one starting at `month`."""
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


def periods_of(moment: datetime) -> list[tuple[str, datetime]]:
    """The three periods a fact at `moment` is counted in."""
    return [("q", floor_quarter(moment)), ("d", floor_day(moment)), ("m", floor_month(moment))]


def cover(start: datetime, end: datetime) -> list[Piece]:
    """[start, end), both floored to the quarter hour, as few, coarse pieces as possible."""
    at, end = floor_quarter(start), floor_quarter(end)
    pieces: list[Piece] = []

    def take(level: str, until: datetime) -> None:
        nonlocal at
        if until > at:
            pieces.append(Piece(level, at, until))
            at = until

    if at < end and at != floor_day(at):
        take("q", min(end, floor_day(at) + DAY))
    if at < end and at != floor_month(at):
        take("d", min(floor_day(end), next_month(floor_month(at))))
    if at < end and at == floor_month(at):
        take("m", floor_month(end))
    if at < end:
        take("d", floor_day(end))
    if at < end:
        take("q", end)
    return pieces
