"""each task's creation and completion in task_flow, for the list of a window's completions

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-20 10:00:00

`created_at` comes from the task's latest version in `task_history`, as its flow takes it.
`completed_at` starts as that version's own `completed_at` for a done task, which is its flow's
completion unless its events' times went back (README, "Flow metrics"); `make replay
CONSUMER=kpi` makes every row exact.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("task_flow", sa.Column("created_at", _TZ, nullable=True), schema="kpi")
    op.add_column("task_flow", sa.Column("completed_at", _TZ, nullable=True), schema="kpi")
    op.execute(
        "UPDATE kpi.task_flow AS flow SET created_at = latest.created_at,"
        " completed_at = CASE WHEN flow.status = 'done' THEN latest.completed_at END"
        " FROM (SELECT DISTINCT ON (task_id) task_id, created_at, completed_at"
        " FROM kpi.task_history ORDER BY task_id, version DESC) AS latest"
        " WHERE latest.task_id = flow.task_id"
    )
    op.alter_column("task_flow", "created_at", nullable=False, schema="kpi")
    op.create_index(
        "ix_task_flow_done_completed_at",
        "task_flow",
        ["completed_at", "task_id"],
        schema="kpi",
        postgresql_where=sa.text("status = 'done'"),
    )


def downgrade() -> None:
    op.drop_index("ix_task_flow_done_completed_at", table_name="task_flow", schema="kpi")
    op.drop_column("task_flow", "completed_at", schema="kpi")
    op.drop_column("task_flow", "created_at", schema="kpi")
