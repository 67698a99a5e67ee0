"""indexes of `manage maintain`'s trims: refresh tokens by expiry, published outbox rows

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:00:00

Built CONCURRENTLY (each in a transaction of its own): writers go on meanwhile.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "auth"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_auth_refresh_token_expires_at",
            "refresh_token",
            ["expires_at"],
            schema=SCHEMA,
            postgresql_concurrently=True,
            if_not_exists=True,
        )
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_outbox_published_at",
            "outbox",
            ["published_at"],
            schema=SCHEMA,
            postgresql_where=sa.text("published_at IS NOT NULL"),
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for index in ("ix_outbox_published_at", "ix_auth_refresh_token_expires_at"):
            op.drop_index(index, schema=SCHEMA, postgresql_concurrently=True, if_exists=True)
