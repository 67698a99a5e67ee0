"""Queries of the flow tables (`task_history`, `task_flow` and the period aggregates).

Never commits: the caller owns the transaction. Aggregates are read by `Piece`s of periods
(`services/kpi/periods.py`), all of a request's pieces in one statement.
"""

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    bindparam,
    case,
    cast,
    column,
    delete,
    func,
    literal,
    select,
    true,
    values,
)
from sqlalchemy.orm import Session

from services.kpi.flow import CompletionKey, Flow, StatusKey, Version
from services.kpi.models import FlowCompletion, FlowStatusDelta, TaskFlow, TaskHistory
from services.kpi.periods import Piece
from shared.contracts.events import TaskStatus
from shared.core.db import as_columns, insert_columns, table_of
from shared.web.pagination import AnySelect

Ranges = Sequence[tuple[int, Piece]]  # pieces, each tagged with the index of what it sums into


def histories(session: Session, *, task_ids: Sequence[int]) -> dict[int, list[Version]]:
    """Every stored version of these tasks."""
    table = table_of(TaskHistory)
    rows = session.execute(select(*table.c).where(table.c.task_id.in_(task_ids)))
    found: dict[int, list[Version]] = {}
    for row in rows:
        fields = dict(row._mapping)
        found.setdefault(fields.pop("task_id"), []).append(Version(**fields))
    return found


def credited_assignees(session: Session, *, task_ids: Sequence[int]) -> dict[int, int | None]:
    """The assignee each of these tasks' stored flow is counted for, by task (live tasks only)."""
    query = select(TaskFlow.task_id, TaskFlow.assignee_id).where(TaskFlow.task_id.in_(task_ids))
    return {task_id: assignee for task_id, assignee in session.execute(query)}


def add_history(session: Session, *, rows: Sequence[dict[str, Any]]) -> None:
    """Store versions; one already stored (a duplicate) is left as it is."""
    if rows:
        session.execute(_ADD_HISTORY, as_columns(rows, _HISTORY_COLUMNS))


# Rows as one array per column (`insert_columns`), into statements built once.
_HISTORY_COLUMNS = [column.name for column in table_of(TaskHistory).c]
_ADD_HISTORY = insert_columns(table_of(TaskHistory), _HISTORY_COLUMNS).on_conflict_do_nothing(
    index_elements=[table_of(TaskHistory).c.task_id, table_of(TaskHistory).c.version]
)


def save_flows(session: Session, *, flows: dict[int, Flow | None]) -> None:
    """Write the tasks' flows; a task without one (deleted) loses its row."""
    table = table_of(TaskFlow)
    gone = [task_id for task_id, flow in flows.items() if flow is None]
    live = [
        {"task_id": task_id, **{name: getattr(flow, name) for name in _FLOW_COLUMNS}}
        for task_id, flow in sorted(flows.items())
        if flow is not None
    ]
    if gone:
        session.execute(delete(table).where(table.c.task_id.in_(gone)))
    if live:
        session.execute(_save_flows_statement(), as_columns(live, ["task_id", *_FLOW_COLUMNS]))


_FLOW_COLUMNS = ("status", "assignee_id", "started_at", "created_at", "completed_at")


@functools.cache
def _save_flows_statement() -> Any:
    table = table_of(TaskFlow)
    statement = insert_columns(table, ["task_id", *_FLOW_COLUMNS])
    return statement.on_conflict_do_update(
        index_elements=[table.c.task_id],
        set_={name: statement.excluded[name] for name in _FLOW_COLUMNS},
    )


def add_status_deltas(session: Session, *, deltas: dict[StatusKey, int]) -> None:
    """Add the deltas to their rows (one statement; rows in key order: no deadlock)."""
    rows = [
        {"level": level, "period_at": period, "status": status, "delta": delta}
        for (level, period, status), delta in sorted(deltas.items())
        if delta
    ]
    if rows:
        session.execute(_status_upsert(), as_columns(rows, _STATUS_COLUMNS))


_STATUS_COLUMNS = ["level", "period_at", "status", "delta"]


@functools.cache
def _status_upsert() -> Any:
    table = table_of(FlowStatusDelta)
    statement = insert_columns(table, _STATUS_COLUMNS)
    return statement.on_conflict_do_update(
        index_elements=[table.c.level, table.c.period_at, table.c.status],
        set_={"delta": table.c.delta + statement.excluded.delta},
    )


def add_completions(session: Session, *, deltas: dict[CompletionKey, tuple[int, float]]) -> None:
    """Add counts and seconds to their rows (one statement, in key order)."""
    rows = [
        {
            "level": level,
            "period_at": period,
            "measure": measure,
            "assignee_key": assignee,
            "bin": bin_index,
            "count": count,
            "total_seconds": seconds,
        }
        for (level, period, measure, assignee, bin_index), (count, seconds) in sorted(
            deltas.items()
        )
        if count or seconds
    ]
    if rows:
        session.execute(_completion_upsert(), as_columns(rows, _COMPLETION_COLUMNS))


_COMPLETION_KEYS = ["level", "period_at", "measure", "assignee_key", "bin"]
_COMPLETION_COLUMNS = [*_COMPLETION_KEYS, "count", "total_seconds"]


@functools.cache
def _completion_upsert() -> Any:
    table = table_of(FlowCompletion)
    statement = insert_columns(table, _COMPLETION_COLUMNS)
    count = table.c.count + statement.excluded["count"]
    return statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in _COMPLETION_KEYS],
        set_={
            "count": count,
            # Without this, float rounding could leave a sum of 1e-9 s behind no task.
            "total_seconds": case(
                (count == 0, 0.0),
                else_=table.c.total_seconds + statement.excluded.total_seconds,
            ),
        },
    )


def _ranges(ranges: Ranges) -> Any:
    rows = [(index, piece.level, piece.start, piece.end) for index, piece in ranges]
    return values(
        column("index", Integer),
        column("level", String),
        column("start", DateTime(timezone=True)),
        column("end", DateTime(timezone=True)),
        name="range",
    ).data(rows)


def _piece_sums(
    table: Any, ranges: Any, *, keys: Sequence[str], sums: Sequence[str], where: Sequence[Any] = ()
) -> Any:
    """Each piece's sums by `keys`: one range scan of the primary key per piece.

    The GROUP BY keeps the LATERAL subquery whole: a plain one is flattened into a join, and
    the planner then hashes the pieces and scans the whole table, which grows with history.
    """
    return (
        select(
            *(table.c[key] for key in keys),
            # As the column's type: a sum of sums of integers would come back as a Decimal.
            *(cast(func.sum(table.c[name]), table.c[name].type).label(name) for name in sums),
        )
        .where(
            table.c.level == ranges.c.level,
            table.c.period_at >= ranges.c.start,
            table.c.period_at < ranges.c.end,
            *where,
        )
        .group_by(*(table.c[key] for key in keys))
        .lateral()
    )


def completion_bins(
    session: Session, *, ranges: Ranges, by_assignee: bool
) -> list[tuple[int, str, int, int, int, float]]:
    """(range index, measure, assignee key or -1, bin, count, seconds) of the pieces' rows."""
    if not ranges:
        return []
    pieces = _ranges(ranges)
    keys = ["measure", "bin", *(["assignee_key"] if by_assignee else [])]
    rows = _piece_sums(table_of(FlowCompletion), pieces, keys=keys, sums=["count", "total_seconds"])
    assignee = rows.c.assignee_key if by_assignee else literal(-1, Integer)
    groups = [pieces.c.index, rows.c.measure, rows.c.bin]
    query = (
        select(
            *groups[:2], assignee, groups[2], func.sum(rows.c.count), func.sum(rows.c.total_seconds)
        )
        .select_from(pieces)
        .join(rows, true())
        .group_by(*groups, *([assignee] if by_assignee else []))
    )
    return [tuple(row) for row in session.execute(query)]


def status_sums(session: Session, *, ranges: Ranges) -> dict[int, dict[str, int]]:
    """{range index: {status: sum of the deltas}} of the pieces' rows."""
    if not ranges:
        return {}
    pieces = _ranges(ranges)
    rows = _piece_sums(table_of(FlowStatusDelta), pieces, keys=["status"], sums=["delta"])
    query = (
        select(pieces.c.index, rows.c.status, func.sum(rows.c.delta))
        .select_from(pieces)
        .join(rows, true())
        .group_by(pieces.c.index, rows.c.status)
    )
    sums: dict[int, dict[str, int]] = {}
    for index, status, total in session.execute(query):
        sums.setdefault(index, {})[status] = int(total)
    return sums


def started_before(
    session: Session, *, moment: datetime, limit: int
) -> list[tuple[int, int | None, datetime]]:
    """(task id, assignee, first start) of the tasks in progress since before `moment`."""
    query = (
        select(TaskFlow.task_id, TaskFlow.assignee_id, TaskFlow.started_at)
        .where(TaskFlow.status == TaskStatus.IN_PROGRESS.value, TaskFlow.started_at < moment)
        .order_by(TaskFlow.started_at, TaskFlow.task_id)
        .limit(limit)
    )
    return [
        (task_id, assignee, started)
        for task_id, assignee, started in session.execute(query)
        if started is not None  # always, in progress
    ]


def completion_order() -> list[ColumnElement[Any]]:
    """The order of the completions list: by completion, then id (unique)."""
    return [TaskFlow.completed_at.expression, TaskFlow.task_id.expression]


@functools.cache
def completions_query() -> AnySelect:
    """The tasks done, completed in [`:start`, `:end`) (the pages are cut by
    `shared.web.pagination`, ordered by completion then id, through the partial index on the done
    tasks)."""
    return select(
        TaskFlow.task_id,
        TaskFlow.assignee_id,
        TaskFlow.created_at,
        TaskFlow.started_at,
        TaskFlow.completed_at,
    ).where(
        TaskFlow.status == TaskStatus.DONE.value,
        TaskFlow.completed_at >= bindparam("start", type_=DateTime(timezone=True)),
        TaskFlow.completed_at < bindparam("end", type_=DateTime(timezone=True)),
    )


def completion_counts(session: Session, *, ranges: Ranges, measure: str) -> dict[int, int]:
    """{range index: completions} of the pieces' rows of `measure`."""
    if not ranges:
        return {}
    pieces = _ranges(ranges)
    table = table_of(FlowCompletion)
    rows = _piece_sums(
        table, pieces, keys=["measure"], sums=["count"], where=[table.c.measure == measure]
    )
    query = (
        select(pieces.c.index, func.sum(rows.c.count))
        .select_from(pieces)
        .join(rows, true())
        .group_by(pieces.c.index)
    )
    return {index: int(count) for index, count in session.execute(query)}


def usernames(connection: Connection, *, users: Table, user_ids: Sequence[int]) -> dict[int, str]:
    """The directory's usernames of these users (the ones it knows)."""
    if not user_ids:
        return {}
    query = select(users.c.id, users.c.username).where(users.c.id.in_(user_ids))
    return {user_id: username for user_id, username in connection.execute(query)}
