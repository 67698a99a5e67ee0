"""due-hour counters, so the overdue count reads no task rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:20:00

Fills the counters from the tasks already in the read model, so an upgrade needs no replay.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "NOT deleted AND status <> 'done' AND due_date IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "due_counter",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("due_hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_due_counter_count_not_negative")),
        sa.PrimaryKeyConstraint("month", "due_hour", name=op.f("pk_due_counter")),
        schema="kpi",
    )
    op.create_index(
        "ix_task_state_open_due_date",
        "task_state",
        ["due_date"],
        schema="kpi",
        postgresql_where=sa.text(_OPEN),
    )
    op.drop_index("ix_kpi_task_state_created_at", table_name="task_state", schema="kpi")
    op.execute(
        "INSERT INTO kpi.due_counter (month, due_hour, count)"
        " SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date,"
        " date_trunc('hour', due_date AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*)"
        f" FROM kpi.task_state WHERE {_OPEN} GROUP BY 1, 2"
    )


def downgrade() -> None:
    op.create_index("ix_kpi_task_state_created_at", "task_state", ["created_at"], schema="kpi")
    op.drop_index("ix_task_state_open_due_date", table_name="task_state", schema="kpi")
    op.drop_table("due_counter", schema="kpi")
