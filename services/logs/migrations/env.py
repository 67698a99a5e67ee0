"""Alembic environment of the `logs` schema."""

from services.logs.config import LogsSettings
from services.logs.models import Base
from shared.core.migrations import run_migrations

run_migrations(Base.metadata, LogsSettings().database_url)
