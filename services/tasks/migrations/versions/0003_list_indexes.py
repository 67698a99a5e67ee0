"""indexes for keyset pages of the task list

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:20:00

Each filter and each sort order of `GET /tasks/` gets a composite index ending in the id, so a
page (after a cursor) is one index range scan. The single-column indexes they replace go.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REPLACED = ["status", "assignee_id", "creator_id", "created_at"]
_COMPOSITE = {
    "ix_task_created_at_id": ["created_at", "id"],
    "ix_task_updated_at_id": ["updated_at", "id"],
    "ix_task_status_created_at_id": ["status", "created_at", "id"],
    "ix_task_assignee_id_created_at_id": ["assignee_id", "created_at", "id"],
    "ix_task_creator_id_created_at_id": ["creator_id", "created_at", "id"],
}
_DUE_DATE = {
    "ix_task_due_date_asc_id": "TIMESTAMPTZ '9999-12-31 23:59:59+00'",
    "ix_task_due_date_desc_id": "TIMESTAMPTZ '0001-01-01 00:00:00+00'",
}


def upgrade() -> None:
    for column in _REPLACED:
        op.drop_index(f"ix_tasks_task_{column}", table_name="task", schema="tasks")
    for name, columns in _COMPOSITE.items():
        op.create_index(name, "task", columns, schema="tasks")
    for name, no_due_date in _DUE_DATE.items():
        op.create_index(
            name, "task", [sa.text(f"coalesce(due_date, {no_due_date})"), "id"], schema="tasks"
        )


def downgrade() -> None:
    for name in [*_DUE_DATE, *_COMPOSITE]:
        op.drop_index(name, table_name="task", schema="tasks")
    for column in _REPLACED:
        op.create_index(f"ix_tasks_task_{column}", "task", [column], schema="tasks")
