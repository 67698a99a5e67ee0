"""due-day counters, so an overdue count sums one row a day before today, not one an hour

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:00:00

Expand only (docs/migrations.md): the release before this one writes `due_counter` alone, and
keeps running while this migrates. The trigger `due_counter_days` adds each change of a
`due_counter` row to its day's row, unless the transaction says it writes the day rows itself
(`kpi.writes_due_days`, set by `services/kpi/service.py`): so both stay in step, whichever
release writes. The table is filled from the due-hour counters in the transaction that creates
the trigger (it holds the writers back meanwhile: one row per hour with open tasks due, a short
sum). Revision 0008 (contract) drops the trigger once no consumer of the release before runs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAYS_FUNCTION = """
CREATE FUNCTION kpi.due_counter_days() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta integer := coalesce(NEW.count, 0) - coalesce(OLD.count, 0);
    row_month date := coalesce(NEW.month, OLD.month);
    row_day date := (coalesce(NEW.due_hour, OLD.due_hour) AT TIME ZONE 'UTC')::date;
BEGIN
    IF current_setting('kpi.writes_due_days', true) = 'on' OR delta = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO kpi.due_day_counter AS day (month, due_day, count)
    VALUES (row_month, row_day, greatest(delta, 0))
    ON CONFLICT (month, due_day) DO UPDATE SET count = day.count + delta;
    RETURN NULL;
END $$
"""


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
    op.execute(DAYS_FUNCTION)
    op.execute(
        "CREATE TRIGGER due_counter_days AFTER INSERT OR UPDATE OR DELETE ON kpi.due_counter"
        " FOR EACH ROW EXECUTE FUNCTION kpi.due_counter_days()"
    )
    op.execute(
        "INSERT INTO kpi.due_day_counter (month, due_day, count)"
        " SELECT month, (due_hour AT TIME ZONE 'UTC')::date, sum(count)"
        " FROM kpi.due_counter GROUP BY 1, 2"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS due_counter_days ON kpi.due_counter")
    op.execute("DROP FUNCTION IF EXISTS kpi.due_counter_days()")
    op.drop_table("due_day_counter", schema="kpi")
