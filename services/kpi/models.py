"""Tables of the `kpi` schema: a read model of the tasks and a directory of users, from events.

`task_state` keeps the last applied version of every task ever seen (a deleted task stays as a
tombstone, so an older event cannot bring it back). The counters hold each live task's
contribution, kept up to date in the consumer's transaction, so a KPI reads a few counter rows
instead of scanning the tasks. `user` names the assignees (shared/messaging/directory.py).
"""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.core.db import schema_metadata
from shared.messaging.applying import processed_event_table
from shared.messaging.directory import user_table

SCHEMA = "kpi"
UNASSIGNED = 0  # `month_counter.assignee_key` of tasks without an assignee (user ids start at 1)
_STATUSES = "status IN ('todo', 'in_progress', 'done')"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


class TaskState(Base):
    """The last applied version of a task: what its KPI contributions are computed from."""

    __tablename__ = "task_state"
    __table_args__ = (CheckConstraint(_STATUSES, name="status"),)

    task_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted: Mapped[bool] = mapped_column(Boolean)


class MonthCounter(Base):
    """How many live tasks created in `month` have this assignee and status."""

    __tablename__ = "month_counter"
    __table_args__ = (
        CheckConstraint(_STATUSES, name="status"),
        CheckConstraint("count >= 0", name="count_not_negative"),
    )

    month: Mapped[date] = mapped_column(Date, primary_key=True)  # first day, UTC
    assignee_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # 0: unassigned
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class CompletionCounter(Base):
    """Live tasks completed in `month` (by `completed_at`), and their summed time to completion."""

    __tablename__ = "completion_counter"
    __table_args__ = (CheckConstraint("completed >= 0", name="completed_not_negative"),)

    month: Mapped[date] = mapped_column(Date, primary_key=True)  # first day, UTC
    completed: Mapped[int] = mapped_column(Integer)
    total_seconds: Mapped[float] = mapped_column(Double)  # sum of completed_at - created_at


class DueCounter(Base):
    """Live, not done tasks created in `month` whose due date falls in the hour `due_hour`.

    Overdue is "due before now", and now moves without any event: so the counts are kept per
    hour of the due date, and an overdue count sums the hours before the current one, plus the
    few tasks due earlier in the current hour (read through `ix_task_state_open_due_date`).
    """

    __tablename__ = "due_counter"
    __table_args__ = (CheckConstraint("count >= 0", name="count_not_negative"),)

    month: Mapped[date] = mapped_column(Date, primary_key=True)  # first day, UTC
    due_hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class DueDayCounter(Base):
    """`DueCounter` summed per UTC day of the due date: an overdue count reads the days before
    today here and only today's hours there, so at most 24 hour rows and one row a day."""

    __tablename__ = "due_day_counter"
    __table_args__ = (CheckConstraint("count >= 0", name="count_not_negative"),)

    month: Mapped[date] = mapped_column(Date, primary_key=True)  # first day, UTC
    due_day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC
    count: Mapped[int] = mapped_column(Integer)


class TaskHistory(Base):
    """Every version of every task the consumer has seen, kept whatever order they came in.

    The flow metrics (`services/kpi/flow.py`) are worked out from a task's whole set of
    versions, so they do not depend on the order or the repetition of the events.
    """

    __tablename__ = "task_history"
    __table_args__ = (CheckConstraint(_STATUSES, name="status"),)

    task_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted: Mapped[bool] = mapped_column(Boolean)


class TaskFlow(Base):
    """A live task's flow, as its history gives it: its status, first start and last completion."""

    __tablename__ = "task_flow"
    __table_args__ = (CheckConstraint(_STATUSES, name="status"),)

    task_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # while done


class FlowCompletion(Base):
    """Completions in a period, by assignee, with their lead or cycle time in a histogram bin.

    Every completion is counted at three levels (`services/kpi/periods.py`): its quarter hour,
    its UTC day and its UTC month, so any window reads a bounded number of rows.
    """

    __tablename__ = "flow_completion"

    level: Mapped[str] = mapped_column(String(1), primary_key=True)  # q, d or m
    period_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    measure: Mapped[str] = mapped_column(String(8), primary_key=True)  # lead or cycle
    assignee_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # 0: unassigned
    bin: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    total_seconds: Mapped[float] = mapped_column(Double)


class FlowStatusDelta(Base):
    """How many live tasks entered (less left) `status` in a period, at the same three levels.

    The count of tasks in a status at an instant is the sum of the deltas before it.
    """

    __tablename__ = "flow_status_delta"
    __table_args__ = (CheckConstraint(_STATUSES, name="status"),)

    level: Mapped[str] = mapped_column(String(1), primary_key=True)
    period_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    delta: Mapped[int] = mapped_column(Integer)


# Open tasks by due date: the current hour's part of an overdue count.
Index(
    "ix_task_state_open_due_date",
    TaskState.due_date,
    postgresql_where=text("NOT deleted AND status <> 'done' AND due_date IS NOT NULL"),
)

# The tasks in progress by their first start: ageing work reads only the ones past a threshold.
Index(
    "ix_task_flow_in_progress_started_at",
    TaskFlow.started_at,
    postgresql_where=text("status = 'in_progress'"),
)
# The tasks done, by their completion: the completions of a window, page by page.
Index(
    "ix_task_flow_done_completed_at",
    TaskFlow.completed_at,
    TaskFlow.task_id,
    postgresql_where=text("status = 'done'"),
)
# The tasks created or completed near a month boundary: a month in another zone than UTC.
Index("ix_task_state_created_at", TaskState.created_at, postgresql_where=text("NOT deleted"))
Index(
    "ix_task_state_completed_at",
    TaskState.completed_at,
    postgresql_where=text("NOT deleted AND status = 'done'"),
)

# The tables the task events build (not the user directory, not the claims).
TASK_TABLES = (
    "task_state",
    "month_counter",
    "completion_counter",
    "due_counter",
    "due_day_counter",
    "task_history",
    "task_flow",
    "flow_completion",
    "flow_status_delta",
)

processed_event = processed_event_table(Base.metadata)
user_directory = user_table(Base.metadata)
