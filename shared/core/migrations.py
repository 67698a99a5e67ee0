"""Alembic, one environment per service schema, with the version table inside that schema."""

import time
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateSchema


def alembic_config(service_dir: Path, database_url: str) -> Config:
    """A config for the service whose folder holds `migrations/`, pointed at `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(service_dir: Path, database_url: str, revision: str = "head") -> None:
    """Bring the service's schema to `revision`."""
    command.upgrade(alembic_config(service_dir, database_url), revision)


def run_migrations(metadata: MetaData, default_url: str) -> None:
    """Body of every service's `env.py`: migrate only `metadata.schema`, creating it first."""
    schema = metadata.schema
    assert schema, "service metadata must name its schema"
    url = context.config.attributes.get("database_url", default_url)

    def include_name(name: str | None, type_: str, _: object) -> bool:
        return name == schema if type_ == "schema" else True

    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        # Deployments create the schema beforehand (deploy/db-bootstrap.sh) and give the service
        # role no right to create schemas: only create it when it is missing (local runs).
        if not inspect(connection).has_schema(schema):
            connection.execute(CreateSchema(schema))
        connection.commit()  # end the implicit transaction, so Alembic's own one commits
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def wait_for_database(database_url: str, *, timeout_seconds: float = 60.0) -> None:
    """Block until the database accepts connections, or raise after `timeout_seconds`."""
    deadline = time.monotonic() + timeout_seconds
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return
            except OperationalError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(1)
    finally:
        engine.dispose()


def prestart(service_dir: Path, database_url: str) -> None:
    """The deploy step before a service starts: wait for the database, then migrate."""
    wait_for_database(database_url)
    upgrade(service_dir, database_url)
