"""activity log in commit order, announced after commit (services/logs/ordering.py)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 11:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Held until the inserting transaction ends; the entries' ids are drawn after it.
    op.execute(
        """
        CREATE FUNCTION logs.activity_log_in_commit_order() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext('efficient-system logs.activity_log'));
            RETURN NULL;
        END $$;
        CREATE FUNCTION logs.activity_log_announce() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('logs_activity', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER in_commit_order BEFORE INSERT ON logs.activity_log
            FOR EACH STATEMENT EXECUTE FUNCTION logs.activity_log_in_commit_order();
        CREATE TRIGGER announce AFTER INSERT ON logs.activity_log
            FOR EACH STATEMENT EXECUTE FUNCTION logs.activity_log_announce();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER announce ON logs.activity_log;
        DROP TRIGGER in_commit_order ON logs.activity_log;
        DROP FUNCTION logs.activity_log_announce();
        DROP FUNCTION logs.activity_log_in_commit_order();
        """
    )
