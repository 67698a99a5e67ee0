"""Queries for months in another zone than UTC: the tasks near the UTC month boundaries.

A month in a zone differs from the UTC month of the same number by at most 14 hours at each
end (the largest offsets). The counters answer the UTC month; these queries count the tasks
created (or completed) in those few hours, through `ix_task_state_created_at` and
`ix_task_state_completed_at`, so the correction grows with the tasks of those hours only.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Integer, column, func, select, true, values

from services.kpi.models import UNASSIGNED, TaskState
from shared.contracts.events import TaskStatus

# (index of the month, start, end, sign): the tasks in [start, end) are added (sign 1) to the
# month's UTC counters, or taken out (sign -1).
Edges = Sequence[tuple[int, datetime, datetime, int]]


def _edges(edges: Edges) -> Any:
    return values(
        column("index", Integer),
        column("start", DateTime(timezone=True)),
        column("end", DateTime(timezone=True)),
        column("sign", Integer),
        name="edge",
    ).data(list(edges))


def _per_edge(
    edges: Any, moment: Any, *where: Any, keys: Sequence[Any], sums: Sequence[Any]
) -> Any:
    """Each edge's rows (`moment` in [start, end)) summed by `keys`: one index range scan per
    edge. The GROUP BY keeps the LATERAL subquery whole: a plain join lets the planner, which
    cannot tell how narrow the edges are, scan every task instead."""
    columns = [key.label(f"key_{n}") for n, key in enumerate(keys)]
    return (
        select(*columns, *(total.label(f"sum_{n}") for n, total in enumerate(sums)))
        .where(moment >= edges.c.start, moment < edges.c.end, *where)
        .group_by(*columns)
        .lateral()
    )


def created_counts(
    connection: Connection, *, edges: Edges
) -> dict[int, dict[tuple[int, str], int]]:
    """{month index: {(assignee key, status): signed count}} of live tasks created in the edges."""
    if not edges:
        return {}
    table = _edges(edges)
    assignee = func.coalesce(TaskState.assignee_id, UNASSIGNED)
    rows = _per_edge(
        table,
        TaskState.created_at,
        ~TaskState.deleted,
        keys=[assignee, TaskState.status],
        sums=[func.count()],
    )
    query = (
        select(table.c.index, rows.c.key_0, rows.c.key_1, func.sum(table.c.sign * rows.c.sum_0))
        .select_from(table)
        .join(rows, true())
        .group_by(table.c.index, rows.c.key_0, rows.c.key_1)
    )
    counts: dict[int, dict[tuple[int, str], int]] = {}
    for index, key, status, count in connection.execute(query):
        counts.setdefault(index, {})[(key, status)] = int(count)
    return counts


def completions(connection: Connection, *, edges: Edges) -> dict[int, tuple[int, float]]:
    """{month index: (signed completions, signed seconds to completion)} in the edges."""
    if not edges:
        return {}
    table = _edges(edges)
    seconds = func.extract("epoch", TaskState.completed_at - TaskState.created_at)
    rows = _per_edge(
        table,
        TaskState.completed_at,
        ~TaskState.deleted,
        TaskState.status == TaskStatus.DONE.value,
        keys=[],
        sums=[func.count(), func.sum(seconds)],
    )
    query = (
        select(
            table.c.index,
            func.sum(table.c.sign * rows.c.sum_0),
            func.sum(table.c.sign * rows.c.sum_1),
        )
        .select_from(table)
        .join(rows, true())
        .where(rows.c.sum_0 > 0)
        .group_by(table.c.index)
    )
    return {index: (int(n), float(s)) for index, n, s in connection.execute(query)}


def overdue(connection: Connection, *, edges: Edges, now: datetime) -> int:
    """The signed count of open tasks created in the edges and due before `now`."""
    if not edges:
        return 0
    table = _edges(edges)
    rows = _per_edge(
        table,
        TaskState.created_at,
        ~TaskState.deleted,
        TaskState.status != TaskStatus.DONE.value,
        TaskState.due_date < now,
        keys=[],
        sums=[func.count()],
    )
    query = (
        select(func.coalesce(func.sum(table.c.sign * rows.c.sum_0), 0))
        .select_from(table)
        .join(rows, true())
    )
    return int(connection.execute(query).scalar_one())
