"""the outbox wakes its relay by a trigger, not by a statement of each write

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:40:00
"""

from collections.abc import Sequence

from alembic import op

from shared.messaging.outbox import drop_notify_trigger_ddl, notify_trigger_ddl

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in notify_trigger_ddl(schema="auth", channel="auth_outbox"):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_notify_trigger_ddl(schema="auth"):
        op.execute(statement)
