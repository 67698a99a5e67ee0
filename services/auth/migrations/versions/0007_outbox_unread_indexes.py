"""the outbox keeps only the indexes a query reads: `user_id`'s index and `event_id`'s unique
constraint go

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 13:30:00

Every user write inserts an outbox row and the relay updates it once published: each index is
maintained on both, and these two serve no query (the relay and the replay read by `id`).
Expand-safe: the release before reads neither. The index is dropped CONCURRENTLY.
"""

from collections.abc import Sequence

from alembic import op

from shared.messaging.outbox import restore_unread_indexes_ddl, unread_indexes_ddl

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for statement in unread_indexes_ddl(schema="auth", entity_id="user_id"):
            op.execute(statement)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for statement in restore_unread_indexes_ddl(schema="auth", entity_id="user_id"):
            op.execute(statement)
