"""login attempts: failed logins per account and address, registrations per address

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=254), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_login_attempt")),
        schema="auth",
    )
    op.create_index(op.f("ix_login_attempt_last_at"), "login_attempt", ["last_at"], schema="auth")


def downgrade() -> None:
    op.drop_index(op.f("ix_login_attempt_last_at"), table_name="login_attempt", schema="auth")
    op.drop_table("login_attempt", schema="auth")
