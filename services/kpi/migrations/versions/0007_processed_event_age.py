"""processed_event by age, for `manage maintain`'s trim of the applied event ids

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 12:00:00

Built CONCURRENTLY: the consumer keeps inserting meanwhile.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_kpi_processed_event_processed_at",
            "processed_event",
            ["processed_at"],
            schema="kpi",
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_kpi_processed_event_processed_at",
            table_name="processed_event",
            schema="kpi",
            postgresql_concurrently=True,
            if_exists=True,
        )
