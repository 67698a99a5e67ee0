"""user directory

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The users kpi has heard of, from auth's user events (shared/messaging/directory.py). Auth's
    # migration 0002 writes an event for every user that exists, so nothing is copied here.
    op.create_table(
        "user",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        schema="kpi",
    )


def downgrade() -> None:
    op.drop_table("user", schema="kpi")
