"""Alembic environment of the `auth` schema."""

from services.auth.config import AuthSettings
from services.auth.models import Base
from shared.core.migrations import run_migrations

run_migrations(Base.metadata, AuthSettings().database_url)
