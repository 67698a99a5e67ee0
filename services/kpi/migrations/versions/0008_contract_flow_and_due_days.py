"""contract of 0005 and 0006: their triggers go, task_flow.created_at becomes NOT NULL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 12:10:00

CONTRACT (docs/migrations.md): `prestart` stops before it; `manage contract` applies it once no
consumer of the release before 0005 runs (every consumer now writes both columns and the day
counters itself). NOT NULL without a long lock: a CHECK added NOT VALID, validated (no writer
waits), then SET NOT NULL uses it instead of scanning.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTRACT = True
_DROP_CHECK = "ALTER TABLE kpi.task_flow DROP CONSTRAINT IF EXISTS ck_task_flow_created_at_not_null"


def upgrade() -> None:
    # Every statement can run again: a revision spanning transactions may stop midway.
    op.execute("DROP TRIGGER IF EXISTS due_counter_days ON kpi.due_counter")
    op.execute("DROP FUNCTION IF EXISTS kpi.due_counter_days()")
    op.execute("DROP TRIGGER IF EXISTS task_flow_fill ON kpi.task_flow")
    op.execute("DROP FUNCTION IF EXISTS kpi.task_flow_fill()")
    op.execute(_DROP_CHECK)
    op.execute(
        "ALTER TABLE kpi.task_flow ADD CONSTRAINT ck_task_flow_created_at_not_null"
        " CHECK (created_at IS NOT NULL) NOT VALID"
    )
    with op.get_context().autocommit_block():  # the scan in a transaction of its own
        op.execute("ALTER TABLE kpi.task_flow VALIDATE CONSTRAINT ck_task_flow_created_at_not_null")
    op.alter_column("task_flow", "created_at", nullable=False, schema="kpi")
    op.execute(_DROP_CHECK)


def downgrade() -> None:
    op.alter_column("task_flow", "created_at", nullable=True, schema="kpi")
