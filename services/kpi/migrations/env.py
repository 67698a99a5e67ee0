"""Alembic environment of the `kpi` schema."""

from services.kpi.config import KpiSettings
from services.kpi.models import Base
from shared.core.migrations import run_migrations

run_migrations(Base.metadata, KpiSettings().database_url)
