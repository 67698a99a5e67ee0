"""index of `manage maintain`'s trim of the processed event ids, by age

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 12:00:00

Built CONCURRENTLY (each in a transaction of its own): writers go on meanwhile.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "logs"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_logs_processed_event_processed_at",
            "processed_event",
            ["processed_at"],
            schema=SCHEMA,
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_logs_processed_event_processed_at",
            schema=SCHEMA,
            postgresql_concurrently=True,
            if_exists=True,
        )
