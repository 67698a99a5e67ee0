"""the outbox names the request that wrote each row: its request id and W3C trace context

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

from alembic import op

from shared.messaging.outbox import request_columns

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in request_columns():
        op.add_column("outbox", column, schema="auth")


def downgrade() -> None:
    for column in reversed(request_columns()):
        op.drop_column("outbox", column.name, schema="auth")
