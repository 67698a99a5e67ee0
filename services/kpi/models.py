"""Tables of the `kpi` schema: a read model of the tasks and a directory of users, from events.

`task_state` keeps the last applied version of every task ever seen (a deleted task stays as a
tombstone, so an older event cannot bring it back). The counters hold each live task's
contribution, kept up to date in the consumer's transaction, so a KPI reads a few counter rows
instead of scanning the tasks. `user` names the assignees (shared/directory.py).
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

from shared.consumer import processed_event_table
from shared.db import schema_metadata
from shared.directory import user_table

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


# Open tasks by due date: the current hour's part of an overdue count.
Index(
    "ix_task_state_open_due_date",
    TaskState.due_date,
    postgresql_where=text("NOT deleted AND status <> 'done' AND due_date IS NOT NULL"),
)

processed_event = processed_event_table(Base.metadata)
user_directory = user_table(Base.metadata)
