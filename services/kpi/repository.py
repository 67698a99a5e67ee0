"""Queries of the `kpi` schema. Never commits: the caller owns the transaction."""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Integer,
    Select,
    Table,
    bindparam,
    case,
    func,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.kpi.models import (
    CompletionCounter,
    DueCounter,
    DueDayCounter,
    MonthCounter,
    TaskState,
)
from shared.contracts.events import TaskSnapshot, TaskStatus
from shared.core.db import as_columns, insert_columns, table_of

MonthKey = tuple[date, int, str]  # (month, assignee_key, status)
DueKey = tuple[date, datetime]  # (month created, hour due)
DueDayKey = tuple[date, date]  # (month created, UTC day due)
Counter = type[MonthCounter] | type[DueCounter] | type[DueDayCounter]


def ensure_task_states(session: Session, *, tasks: Sequence[TaskSnapshot]) -> None:
    """Insert placeholders (version 0, contributing nothing) for the tasks not known yet.

    In task id order, the order `lock_task_states` locks them in: two batches inserting the same
    new tasks wait on each other's uncommitted rows, and in any other order they would deadlock.
    """
    placeholders = [
        {
            "task_id": task.id,
            "version": 0,
            "status": task.status.value,
            "assignee_id": task.assignee_id,
            "created_at": task.created_at,
            "due_date": task.due_date,
            "completed_at": task.completed_at,
            "deleted": True,
        }
        for task in sorted(tasks, key=lambda task: task.id)
    ]
    session.execute(_ENSURE_STATES, as_columns(placeholders, _STATE_COLUMNS))


_STATE_COLUMNS = [column.name for column in table_of(TaskState).c]
# One array per column (`insert_columns`), into statements built once.
_ENSURE_STATES = insert_columns(table_of(TaskState), _STATE_COLUMNS).on_conflict_do_nothing(
    index_elements=[table_of(TaskState).c.task_id]
)


@dataclass
class StoredState:
    """A task's row in `task_state`, as the consumer reads, changes and writes it back."""

    task_id: int
    version: int
    status: str
    assignee_id: int | None
    created_at: datetime
    due_date: datetime | None
    completed_at: datetime | None
    deleted: bool


def lock_task_states(session: Session, *, task_ids: Sequence[int]) -> dict[int, StoredState]:
    """The tasks' stored states, locked until the transaction ends (in id order: no deadlock)."""
    table = table_of(TaskState)
    rows = session.execute(
        select(*table.c)
        .where(table.c.task_id.in_(task_ids))
        .order_by(table.c.task_id)
        .with_for_update()
    )
    return {row.task_id: StoredState(**row._mapping) for row in rows}


def save_task_states(session: Session, *, states: Sequence[StoredState]) -> None:
    """Write the states back: one statement for the whole batch (not one UPDATE per task)."""
    if states:
        # `vars`, not `dataclasses.asdict`: that deep-copies every value (its datetimes too).
        session.execute(_save_states_statement(), as_columns(map(vars, states), _STATE_COLUMNS))


@functools.cache
def _save_states_statement() -> Any:
    table = table_of(TaskState)
    statement = insert_columns(table, _STATE_COLUMNS)
    return statement.on_conflict_do_update(
        index_elements=[table.c.task_id],
        set_={
            column.name: statement.excluded[column.name]
            for column in table.c
            if column.name != "task_id"
        },
    )


class CounterMissingError(Exception):
    """A contribution was taken out of a counter row that does not exist: a read-model bug."""


def add_to_counter(session: Session, counter: Counter, *, key: tuple[Any, ...], delta: int) -> None:
    """Add `delta` to the `count` of the `counter` row whose primary key is `key` (in the
    table's key order), creating the row for a positive delta."""
    upsert, subtract, names = _count_statements(counter)
    parameters: dict[str, Any] = {name: value for name, value in zip(names, key, strict=True)}
    parameters["delta"] = delta
    connection = session.connection()
    if delta > 0:
        # CHECK constraints apply to the proposed row too, so only positive counts are upserted.
        connection.execute(upsert, parameters)
        return
    if connection.execute(subtract, parameters).scalar() is None:
        raise CounterMissingError(f"no {counter.__tablename__} row {key}")


@functools.cache
def _count_statements(counter: Counter) -> tuple[Any, Any, list[str]]:
    """The upsert and the update of `counter`'s `count` by `:delta`, built once, with the
    primary key columns as parameters `key_<column>`; and those parameters' names, in the
    key's order."""
    table = table_of(counter)
    keys = list(table.primary_key.columns)
    delta = bindparam("delta", type_=Integer)
    upsert = (
        insert(table)
        .values(
            {**{column.name: bindparam(f"key_{column.name}") for column in keys}, "count": delta}
        )
        .on_conflict_do_update(index_elements=keys, set_={"count": table.c.count + delta})
    )
    subtract = (
        update(table)
        .where(*(column == bindparam(f"key_{column.name}") for column in keys))
        .values(count=table.c.count + delta)
        .returning(table.c.count)
    )
    return upsert, subtract, [f"key_{column.name}" for column in keys]


def add_to_completion_counter(
    session: Session, *, month: date, completed: int, seconds: float
) -> None:
    """Add to one month's completions; a month back at 0 completions sums to 0 seconds."""
    if completed > 0:
        statement = insert(CompletionCounter).values(
            month=month, completed=completed, total_seconds=seconds
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[CompletionCounter.month],
                set_={
                    "completed": CompletionCounter.completed + completed,
                    "total_seconds": CompletionCounter.total_seconds + seconds,
                },
            )
        )
        return
    remaining = CompletionCounter.completed + completed
    updated = session.scalar(
        update(CompletionCounter)
        .where(CompletionCounter.month == month)
        .values(
            completed=remaining,
            # Without this, float rounding could leave a sum of 1e-9 s behind no task.
            total_seconds=case(
                (remaining == 0, 0.0), else_=CompletionCounter.total_seconds + seconds
            ),
        )
        .returning(CompletionCounter.completed)
    )
    if updated is None:
        raise CounterMissingError(f"no completion_counter row {month}")


# The reads below are built once, with bound parameters, and run on the session's connection:
# a KPI request then costs one compiled-statement look-up and one round trip per statement.
_FIRST, _LAST = bindparam("first", type_=Date), bindparam("last", type_=Date)
_MONTH = bindparam("month", type_=Date)
_STATUS_COUNTS_BY_MONTH = (
    select(MonthCounter.month, MonthCounter.status, func.sum(MonthCounter.count))
    .where(MonthCounter.month >= _FIRST, MonthCounter.month <= _LAST)
    .group_by(MonthCounter.month, MonthCounter.status)
)
# The completions ride along as rows without a status.
_MONTH_SERIES = union_all(
    _STATUS_COUNTS_BY_MONTH.add_columns(null().label("total_seconds")),
    select(
        CompletionCounter.month,
        null(),
        CompletionCounter.completed,
        CompletionCounter.total_seconds,
    ).where(CompletionCounter.month >= _FIRST, CompletionCounter.month <= _LAST),
)


def status_counts_by_month(
    connection: Connection, *, first: date, last: date
) -> dict[date, dict[str, int]]:
    """Live tasks created in each month from `first` to `last`, by status."""
    rows = connection.execute(_STATUS_COUNTS_BY_MONTH, {"first": first, "last": last})
    counts: dict[date, dict[str, int]] = {}
    for month, status, count in rows:
        counts.setdefault(month, {})[status] = int(count)
    return counts


def status_counts_by_assignee(
    connection: Connection, *, month: date, users: Table
) -> list[tuple[int, str | None, str, int]]:
    """(assignee key, username or None, status, count) of the live tasks created in `month`.

    The usernames come from the directory `users`, in the same statement.
    """
    rows = connection.execute(_by_assignee(users), {"month": month})
    return [tuple(row) for row in rows]


@functools.cache
def _by_assignee(users: Table) -> Select[Any]:
    return (
        select(MonthCounter.assignee_key, users.c.username, MonthCounter.status, MonthCounter.count)
        .outerjoin(users, users.c.id == MonthCounter.assignee_key)
        .where(MonthCounter.month == _MONTH, MonthCounter.count > 0)
    )


def month_series(
    connection: Connection, *, first: date, last: date
) -> tuple[dict[date, dict[str, int]], dict[date, tuple[int, float]]]:
    """Each month from `first` to `last`: its live tasks by status, and its (completed, total
    seconds to completion); one statement, one round trip."""
    counts: dict[date, dict[str, int]] = {}
    completions: dict[date, tuple[int, float]] = {}
    rows = connection.execute(_MONTH_SERIES, {"first": first, "last": last})
    for month, status, count, seconds in rows:
        if status is None:
            completions[month] = (int(count), float(seconds))
        else:
            counts.setdefault(month, {})[status] = int(count)
    return counts, completions


@dataclass(frozen=True)
class MonthTotals:
    """One month's counters, as `monthly` answers them."""

    by_status: dict[str, int]
    completed: int
    completed_seconds: float
    overdue: int


# Constants are written into the statement (they are ours, never input): a bound parameter
# each would cost its processing on every request.
_ZERO: ColumnElement[int] = literal_column("0")


def _status_sum(status: TaskStatus) -> ColumnElement[int]:
    is_status = MonthCounter.status == literal_column(f"'{status.value}'")
    return func.coalesce(func.sum(MonthCounter.count).filter(is_status), _ZERO)


def _month_scalar(column: Any, *where: ColumnElement[bool]) -> ColumnElement[Any]:
    return select(column).where(*where).scalar_subquery()


_HOUR, _NOW = (
    bindparam("hour", type_=DateTime(timezone=True)),
    bindparam("now", type_=DateTime(timezone=True)),
)
_TODAY, _TODAY_START = (
    bindparam("today", type_=Date),
    bindparam("today_start", type_=DateTime(timezone=True)),
)
_START, _END = (
    bindparam("start", type_=DateTime(timezone=True)),
    bindparam("end", type_=DateTime(timezone=True)),
)
_MONTH_TOTALS = select(
    *(_status_sum(status).label(status.value) for status in TaskStatus),
    _month_scalar(CompletionCounter.completed, CompletionCounter.month == _MONTH),
    _month_scalar(CompletionCounter.total_seconds, CompletionCounter.month == _MONTH),
    # Overdue: the days before today, then today's hours before the current one, from the
    # counters; neither grows with the month's tasks. The current hour's count says whether
    # any of its tasks can be due before now (`_DUE_THIS_HOUR_BEFORE_NOW`).
    _month_scalar(
        func.coalesce(func.sum(DueDayCounter.count), _ZERO),
        DueDayCounter.month == _MONTH,
        DueDayCounter.due_day < _TODAY,
    ),
    _month_scalar(
        func.coalesce(func.sum(DueCounter.count), _ZERO),
        DueCounter.month == _MONTH,
        DueCounter.due_hour >= _TODAY_START,
        DueCounter.due_hour < _HOUR,
    ),
    _month_scalar(DueCounter.count, DueCounter.month == _MONTH, DueCounter.due_hour == _HOUR),
).where(MonthCounter.month == _MONTH)
# The month's open tasks due in the current hour before now, from the open tasks' due-date
# index: a second statement, only when the current hour's counter is not 0 (a month in the
# past seldom has any), since planning it is a good part of what `monthly` costs.
_DUE_THIS_HOUR_BEFORE_NOW = select(func.count()).where(
    TaskState.due_date >= _HOUR,
    TaskState.due_date < _NOW,
    TaskState.due_date.is_not(None),
    ~TaskState.deleted,  # as the partial index says it, so the planner can use it
    TaskState.status != TaskStatus.DONE.value,
    TaskState.created_at >= _START,
    TaskState.created_at < _END,
)


def month_totals(
    connection: Connection, *, month: date, start: datetime, end: datetime, now: datetime
) -> MonthTotals:
    """The counters of the month `month` ([start, end)), overdue as of `now`."""
    hour = hour_of(now)
    today_start = hour.replace(hour=0)
    params = {"month": month, "hour": hour, "today": today_start.date(), "today_start": today_start}
    row = connection.execute(_MONTH_TOTALS, params).one()
    *statuses, completed, seconds, before_today, today_before_hour, due_this_hour = row
    overdue = int(before_today) + int(today_before_hour)
    if due_this_hour:
        bounds = {"hour": hour, "now": now, "start": start, "end": end}
        overdue += connection.execute(_DUE_THIS_HOUR_BEFORE_NOW, bounds).scalar_one()
    return MonthTotals(
        by_status={
            status.value: int(count) for status, count in zip(TaskStatus, statuses, strict=True)
        },
        completed=int(completed or 0),
        completed_seconds=float(seconds or 0.0),
        overdue=overdue,
    )


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour of `moment`."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
