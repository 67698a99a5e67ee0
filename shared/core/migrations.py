"""Alembic, one environment per service schema, with the version table inside that schema."""

import io
import time
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateSchema

# A migration waits at most this long for a lock, rather than queue every reader and writer
# behind it while a long transaction holds the table; it then fails, and the Job is run again.
LOCK_TIMEOUT = "SET lock_timeout = '5s'"


def alembic_config(service_dir: Path, database_url: str) -> Config:
    """A config for the service whose folder holds `migrations/`, pointed at `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(service_dir: Path, database_url: str, revision: str = "head") -> None:
    """Bring the service's schema to `revision`."""
    command.upgrade(alembic_config(service_dir, database_url), revision)


def upgrade_sql(service_dir: Path, database_url: str, revisions: str) -> str:
    """The SQL `upgrade` would run for `revisions` (`"<from>:<to>"`), without a database."""
    config = alembic_config(service_dir, database_url)
    output = io.StringIO()
    config.output_buffer = output
    command.upgrade(config, revisions, sql=True)
    return output.getvalue()


def run_migrations(metadata: MetaData, default_url: str) -> None:
    """Body of every service's `env.py`: migrate only `metadata.schema`, creating it first."""
    schema = metadata.schema
    assert schema, "service metadata must name its schema"
    url = context.config.attributes.get("database_url", default_url)

    def include_name(name: str | None, type_: str, _: object) -> bool:
        return name == schema if type_ == "schema" else True

    if context.is_offline_mode():  # `alembic upgrade --sql`: the SQL, for the migration linter
        context.configure(
            url=url,
            target_metadata=metadata,
            version_table_schema=schema,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            transaction_per_migration=True,
        )
        context.execute(LOCK_TIMEOUT)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        # Deployments create the schema beforehand (deploy/db-bootstrap.sh) and give the service
        # role no right to create schemas: only create it when it is missing (local runs).
        if not inspect(connection).has_schema(schema):
            connection.execute(CreateSchema(schema))
        connection.execute(text(LOCK_TIMEOUT))  # for the session: every migration's transaction
        connection.commit()  # end the implicit transaction, so Alembic's own one commits
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
            transaction_per_migration=True,
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


def expand_target(service_dir: Path, database_url: str) -> str:
    """The last revision `prestart` may apply: the one before the first pending contract
    revision (a module saying `CONTRACT = True`); `head` for a schema never migrated, on which
    no older release can run."""
    config = alembic_config(service_dir, database_url)
    script = ScriptDirectory.from_config(config)
    engine = create_engine(database_url, poolclass=NullPool)
    schema = _schema_of(service_dir)
    try:
        with engine.connect() as connection:
            migration = MigrationContext.configure(
                connection, opts={"version_table_schema": schema}
            )
            current = migration.get_current_revision()
    finally:
        engine.dispose()
    if current is None:
        return "head"
    target = current
    for revision in reversed(list(script.iterate_revisions("head", current))):
        if getattr(revision.module, "CONTRACT", False):
            break
        target = revision.revision
    return target


def _schema_of(service_dir: Path) -> str:
    """The service's schema: its folder's name, as every service names its schema."""
    return service_dir.name


def prestart(service_dir: Path, database_url: str, *, with_contract: bool = False) -> None:
    """The deploy step before a service starts: wait for the database, then migrate, stopping
    before a contract revision (the release before may still run: `contract` applies it), or
    `with_contract` applying it too (nothing of the release before runs: `make migrate`)."""
    wait_for_database(database_url)
    target = "head" if with_contract else expand_target(service_dir, database_url)
    upgrade(service_dir, database_url, target)


def contract(service_dir: Path, database_url: str) -> None:
    """Apply every pending revision, contract ones too: once no pod of the release before runs."""
    wait_for_database(database_url)
    upgrade(service_dir, database_url)
