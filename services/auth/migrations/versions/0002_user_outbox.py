"""user versions and the outbox of user events, with one event per existing user

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 22:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Users who exist before user events did reach the other services' directories through these
# events, relayed like any other: an upgrade needs no manual step. Built here in SQL, in the
# user event contract's schema_version 1 (shared/contracts/events.py), so this revision never
# changes.
BACKFILL = """
WITH existing AS (
    SELECT gen_random_uuid() AS event_id, id, username, role, created_at
    FROM auth."user"
)
INSERT INTO auth.outbox (event_id, event_type, user_id, payload)
SELECT
    event_id,
    'user.registered',
    id,
    jsonb_build_object(
        'event_id', event_id,
        'event_type', 'user.registered',
        'schema_version', 1,
        'occurred_at', created_at,
        'actor_id', NULL,
        'user_id', id,
        'version', 1,
        'user', jsonb_build_object('id', id, 'username', username, 'role', role),
        'changes', '{}'::jsonb
    )
FROM existing
ORDER BY id
"""


def upgrade() -> None:
    op.add_column(
        "user",
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        schema="auth",
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        schema="auth",
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        unique=False,
        schema="auth",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        op.f("ix_auth_outbox_user_id"), "outbox", ["user_id"], unique=False, schema="auth"
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_outbox_user_id"), table_name="outbox", schema="auth")
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        schema="auth",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_table("outbox", schema="auth")
    op.drop_column("user", "version", schema="auth")
