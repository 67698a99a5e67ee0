"""due-day counters, so an overdue count sums one row a day before today, not one an hour

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:00:00

Filled from the due-hour counters, so an upgrade needs no replay.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "due_day_counter",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("due_day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_due_day_counter_count_not_negative")),
        sa.PrimaryKeyConstraint("month", "due_day", name=op.f("pk_due_day_counter")),
        schema="kpi",
    )
    op.execute(
        "INSERT INTO kpi.due_day_counter (month, due_day, count)"
        " SELECT month, (due_hour AT TIME ZONE 'UTC')::date, sum(count)"
        " FROM kpi.due_counter GROUP BY 1, 2"
    )


def downgrade() -> None:
    op.drop_table("due_day_counter", schema="kpi")
