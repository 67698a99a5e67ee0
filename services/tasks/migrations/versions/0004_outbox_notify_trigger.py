"""the outbox wakes its relay by a trigger, not by a statement of each write

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:40:00
"""

from collections.abc import Sequence

from alembic import op

from shared.messaging.outbox import drop_notify_trigger_ddl, notify_trigger_ddl

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in notify_trigger_ddl(schema="tasks", channel="tasks_outbox"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_notify_trigger_ddl(schema="tasks"):
        op.execute(statement)
