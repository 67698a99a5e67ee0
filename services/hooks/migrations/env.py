"""Alembic environment of the `hooks` schema."""

from services.hooks.config import HooksSettings
from services.hooks.models import Base
from shared.core.migrations import run_migrations

run_migrations(Base.metadata, HooksSettings().database_url)
