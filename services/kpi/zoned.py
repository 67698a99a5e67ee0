"""Months in another zone than UTC: the UTC month's counters, corrected at both ends.

A month in `tz` starts and ends at most 14 hours from the UTC month of the same number. The
tasks created (or completed) between the two boundaries are counted from the tasks themselves
(`zoned_repository`) and added to, or taken out of, the UTC month's counters. A month whose
boundaries are the UTC ones (UTC itself, or a zone at +00:00 then) needs no query.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from services.kpi import zoned_repository
from services.kpi.zoned_repository import Edges
from shared.web.months import MonthRange

StatusCounts = dict[str, int]


def edges(months: Sequence[MonthRange]) -> Edges:
    """The signed spans between each month's boundaries and its UTC month's."""
    found = []
    for index, month in enumerate(months):
        utc = MonthRange.of(month.year, month.month)
        if month.start < utc.start:
            found.append((index, month.start, utc.start, 1))
        elif month.start > utc.start:
            found.append((index, utc.start, month.start, -1))
        if month.end > utc.end:
            found.append((index, utc.end, month.end, 1))
        elif month.end < utc.end:
            found.append((index, month.end, utc.end, -1))
    return found


def assignee_counts(
    connection: Connection,
    *,
    months: Sequence[MonthRange],
    counts: Sequence[Counter[tuple[int, str]]],
) -> list[Counter[tuple[int, str]]]:
    """Each month's {(assignee key, status): count}, from its UTC month's `counts`."""
    corrections = zoned_repository.created_counts(connection, edges=edges(months))
    merged = []
    for index, base in enumerate(counts):
        total = Counter(base)
        total.update(corrections.get(index, {}))
        merged.append(total)
    return merged


def status_counts(
    connection: Connection, *, months: Sequence[MonthRange], counts: Sequence[StatusCounts]
) -> list[StatusCounts]:
    """Each month's {status: count}, from its UTC month's `counts`."""
    corrections = zoned_repository.created_counts(connection, edges=edges(months))
    merged = []
    for index, base in enumerate(counts):
        total = Counter(base)
        for (_, status), count in corrections.get(index, {}).items():
            total[status] += count
        merged.append(dict(total))
    return merged


def completions(
    connection: Connection, *, months: Sequence[MonthRange], counts: Sequence[tuple[int, float]]
) -> list[tuple[int, float]]:
    """Each month's (completions, seconds to completion), from its UTC month's `counts`."""
    corrections = zoned_repository.completions(connection, edges=edges(months))
    merged = []
    for index, (completed, seconds) in enumerate(counts):
        more, more_seconds = corrections.get(index, (0, 0.0))
        merged.append((completed + more, seconds + more_seconds if completed + more else 0.0))
    return merged


def overdue(connection: Connection, *, month: MonthRange, now: datetime) -> int:
    """The correction of a month's overdue count."""
    return zoned_repository.overdue(connection, edges=edges([month]), now=now)
