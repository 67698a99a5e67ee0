"""Queries for months in another zone than UTC: the tasks near the UTC month boundaries.

A month in a zone differs from the UTC month of the same number by at most 14 hours at each
end (the largest offsets). The counters answer the UTC month; these queries count the tasks
created (or completed) in those few hours, through `ix_task_state_created_at` and
`ix_task_state_completed_at`, so the correction grows with the tasks of those hours only.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, and_, column, func, select, values
from sqlalchemy.orm import Session

from services.kpi.models import UNASSIGNED, TaskState
from shared.events import TaskStatus

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


def created_counts(session: Session, *, edges: Edges) -> dict[int, dict[tuple[int, str], int]]:
    """{month index: {(assignee key, status): signed count}} of live tasks created in the edges."""
    if not edges:
        return {}
    table = _edges(edges)
    assignee = func.coalesce(TaskState.assignee_id, UNASSIGNED)
    query = (
        select(table.c.index, assignee, TaskState.status, func.sum(table.c.sign))
        .select_from(table)
        .join(
            TaskState,
            and_(TaskState.created_at >= table.c.start, TaskState.created_at < table.c.end),
        )
        .where(~TaskState.deleted)
        .group_by(table.c.index, assignee, TaskState.status)
    )
    counts: dict[int, dict[tuple[int, str], int]] = {}
    for index, key, status, count in session.execute(query):
        counts.setdefault(index, {})[(key, status)] = int(count)
    return counts


def completions(session: Session, *, edges: Edges) -> dict[int, tuple[int, float]]:
    """{month index: (signed completions, signed seconds to completion)} in the edges."""
    if not edges:
        return {}
    table = _edges(edges)
    seconds = func.extract("epoch", TaskState.completed_at - TaskState.created_at)
    query = (
        select(table.c.index, func.sum(table.c.sign), func.sum(table.c.sign * seconds))
        .select_from(table)
        .join(
            TaskState,
            and_(TaskState.completed_at >= table.c.start, TaskState.completed_at < table.c.end),
        )
        .where(~TaskState.deleted, TaskState.status == TaskStatus.DONE.value)
        .group_by(table.c.index)
    )
    return {index: (int(n), float(s)) for index, n, s in session.execute(query)}


def overdue(session: Session, *, edges: Edges, now: datetime) -> int:
    """The signed count of open tasks created in the edges and due before `now`."""
    if not edges:
        return 0
    table = _edges(edges)
    query = (
        select(func.coalesce(func.sum(table.c.sign), 0))
        .select_from(table)
        .join(
            TaskState,
            and_(TaskState.created_at >= table.c.start, TaskState.created_at < table.c.end),
        )
        .where(
            ~TaskState.deleted,
            TaskState.status != TaskStatus.DONE.value,
            TaskState.due_date < now,
        )
    )
    return int(session.execute(query).scalar_one())
