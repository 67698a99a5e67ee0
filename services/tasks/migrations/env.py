"""Alembic environment of the `tasks` schema."""

from services.tasks.config import TasksSettings
from services.tasks.models import Base
from shared.core.migrations import run_migrations

run_migrations(Base.metadata, TasksSettings().database_url)
