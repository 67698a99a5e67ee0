"""flow history and aggregates; indexes for months in other zones than UTC

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-10 10:00:00

The flow tables start empty: the versions before the upgrade are in no table of the read
model, so `make replay CONSUMER=kpi` fills them (docs/api.md, "Flow metrics").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "status IN ('todo', 'in_progress', 'done')"
_TZ = sa.DateTime(timezone=True)
_INDEXES = [
    ("ix_task_flow_in_progress_started_at", "task_flow", "started_at", "status = 'in_progress'"),
    ("ix_task_state_created_at", "task_state", "created_at", "NOT deleted"),
    ("ix_task_state_completed_at", "task_state", "completed_at", "NOT deleted AND status = 'done'"),
]


def upgrade() -> None:
    op.create_table(
        "task_history",
        sa.Column("task_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", _TZ, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("completed_at", _TZ, nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_task_history_status")),
        sa.PrimaryKeyConstraint("task_id", "version", name=op.f("pk_task_history")),
        schema="kpi",
    )
    op.create_table(
        "task_flow",
        sa.Column("task_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("started_at", _TZ, nullable=True),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_task_flow_status")),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_flow")),
        schema="kpi",
    )
    op.create_table(
        "flow_completion",
        sa.Column("level", sa.String(1), nullable=False),
        sa.Column("period_at", _TZ, nullable=False),
        sa.Column("measure", sa.String(8), nullable=False),
        sa.Column("assignee_key", sa.BigInteger(), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total_seconds", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint(
            "level", "period_at", "measure", "assignee_key", "bin", name=op.f("pk_flow_completion")
        ),
        schema="kpi",
    )
    op.create_table(
        "flow_status_delta",
        sa.Column("level", sa.String(1), nullable=False),
        sa.Column("period_at", _TZ, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_flow_status_delta_status")),
        sa.PrimaryKeyConstraint("level", "period_at", "status", name=op.f("pk_flow_status_delta")),
        schema="kpi",
    )
    for name, table, column, where in _INDEXES:
        op.create_index(name, table, [column], schema="kpi", postgresql_where=sa.text(where))


def downgrade() -> None:
    for name, table, _, _ in _INDEXES:
        op.drop_index(name, table_name=table, schema="kpi")
    for table in ("flow_status_delta", "flow_completion", "task_flow", "task_history"):
        op.drop_table(table, schema="kpi")
