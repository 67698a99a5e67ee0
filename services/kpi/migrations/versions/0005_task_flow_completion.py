"""each task's creation and completion in task_flow, for the list of a window's completions

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-20 10:00:00

Expand only (docs/migrations.md): the release before this one inserts `task_flow` rows without
these columns, and keeps running while this migrates. So both columns come nullable, and the
trigger `task_flow_fill` fills them on every write, from the task's history as `flow_of`
(`services/kpi/flow.py`) works them out: an old consumer's rows are complete, a new one's are
written twice with the same values. The existing rows are filled by the same trigger, a
thousand tasks a transaction. Revision 0008 (contract, `manage contract`, once no consumer of
the release before runs) drops the trigger and makes `created_at` NOT NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)

# `flow_of`'s creation and completion, from the versions in `task_history` (in version order:
# moments never go back; a version entering `done` moves at its `completed_at` when later; the
# completion is the last move into `done`, if the task is done now).
FILL_FUNCTION = """
CREATE OR REPLACE FUNCTION kpi.task_flow_fill() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    step record;
    moment timestamptz;
    current_status text;
    completed timestamptz;
    created timestamptz;
BEGIN
    FOR step IN
        SELECT occurred_at, status, created_at, completed_at FROM kpi.task_history
        WHERE task_id = NEW.task_id ORDER BY task_history.version
    LOOP
        moment := greatest(moment, step.occurred_at);
        IF step.status = 'done' AND current_status IS DISTINCT FROM 'done'
                AND step.completed_at > moment THEN
            current_status := coalesce(current_status, 'todo');
            moment := step.completed_at;
        END IF;
        IF step.status IS DISTINCT FROM current_status THEN
            current_status := step.status;
            completed := CASE WHEN current_status = 'done' THEN moment END;
        END IF;
        created := step.created_at;
    END LOOP;
    IF created IS NOT NULL THEN
        NEW.created_at := created;
        NEW.completed_at := completed;
    END IF;
    RETURN NEW;
END $$
"""

# The rows that were there before: each batch's update fires the trigger, which fills them.
BACKFILL = """
DO $$
DECLARE
    last_id bigint := -1;
    batch_end bigint;
BEGIN
    LOOP
        SELECT max(task_id) INTO batch_end FROM (
            SELECT task_id FROM kpi.task_flow WHERE task_id > last_id ORDER BY task_id LIMIT 1000
        ) AS batch;
        EXIT WHEN batch_end IS NULL;
        UPDATE kpi.task_flow SET created_at = NULL
        WHERE task_id > last_id AND task_id <= batch_end AND created_at IS NULL;
        last_id := batch_end;
        COMMIT;
    END LOOP;
END $$
"""


def upgrade() -> None:
    # Every statement can run again: a revision spanning transactions may stop midway.
    for column in ("created_at", "completed_at"):
        op.add_column(
            "task_flow", sa.Column(column, _TZ, nullable=True), schema="kpi", if_not_exists=True
        )
    op.execute(FILL_FUNCTION)
    op.execute(
        "CREATE OR REPLACE TRIGGER task_flow_fill BEFORE INSERT OR UPDATE ON kpi.task_flow"
        " FOR EACH ROW EXECUTE FUNCTION kpi.task_flow_fill()"
    )
    with op.get_context().autocommit_block():
        op.execute(BACKFILL)
        op.create_index(
            "ix_task_flow_done_completed_at",
            "task_flow",
            ["completed_at", "task_id"],
            schema="kpi",
            postgresql_where=sa.text("status = 'done'"),
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    op.drop_index("ix_task_flow_done_completed_at", table_name="task_flow", schema="kpi")
    op.execute("DROP TRIGGER IF EXISTS task_flow_fill ON kpi.task_flow")
    op.execute("DROP FUNCTION IF EXISTS kpi.task_flow_fill()")
    op.drop_column("task_flow", "completed_at", schema="kpi")
    op.drop_column("task_flow", "created_at", schema="kpi")
