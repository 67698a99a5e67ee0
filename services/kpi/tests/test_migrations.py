"""The migrations that build the `kpi` schema."""

from sqlalchemy.engine import Engine

from conftest import migration_drift
from services.kpi.models import SCHEMA, Base


def test_the_migrations_build_exactly_the_models(engine: Engine, kpi_schema: None) -> None:
    assert migration_drift(engine, schema=SCHEMA, metadata=Base.metadata) == []
