"""Fixtures every test suite shares: a separate PostgreSQL database, one transaction per test.

Tests never touch the database of a running `make run` system: they use TEST_DATABASE_URL
(default: the `efficient_test` database), and refuse a database whose name does not end in
`_test`.

Each service's `tests/conftest.py` builds on these: its schema (`migrate_fresh`), its
`settings` (`service_settings`), its `app` on the test's session (`on_test_session`), served
by `client` below; `committed` data is `emptied` before and after.
"""

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import MetaData, create_engine, make_url, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import DropSchema

from scripts.preflight import create_database_if_missing
from shared.core import tracing
from shared.core.db import Database
from shared.core.migrations import upgrade
from shared.core.settings import ServiceSettings
from tests.tokens import TestSigner

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/efficient_test"


@pytest.fixture(scope="session")
def database_url() -> str:
    """The test database, created when missing."""
    url = make_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL))
    if not (url.database or "").endswith("_test"):
        pytest.exit(f"refusing to test on {url.database!r}: use a database named *_test")
    rendered = url.render_as_string(hide_password=False)
    create_database_if_missing(rendered)
    return rendered


def fresh_database(database_url: str, name: str) -> str:
    """Drop and recreate the database `name` on the server of `database_url`; its URL."""
    url = make_url(database_url)
    admin = create_engine(
        url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, pool_pre_ping=True)
    yield engine
    engine.dispose()


def migrate_fresh(engine: Engine, *, schema: str, service_dir: Path) -> None:
    """Drop the schema and rebuild it through the service's own migrations."""
    with engine.begin() as connection:
        connection.execute(DropSchema(schema, cascade=True, if_exists=True))
    upgrade(service_dir, engine.url.render_as_string(hide_password=False))


def migration_drift(engine: Engine, *, schema: str, metadata: MetaData) -> list[Any]:
    """What the migrations of `schema`, as applied to the test database, build differently from
    the models' `metadata` (Alembic's autogenerate comparison): empty when they agree."""

    def only_this_schema(name: str | None, type_: str, _: object) -> bool:
        return name == schema if type_ == "schema" else True

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": only_this_schema,
                "compare_type": True,
                "version_table_schema": schema,
            },
        )
        return list(compare_metadata(context, metadata))


@contextmanager
def emptied(engine: Engine, truncate: str) -> Iterator[None]:
    """Run the `truncate` statement before and after: for tests whose data is really committed."""

    def run() -> None:
        with engine.begin() as connection:
            connection.execute(text(truncate))

    run()
    try:
        yield
    finally:
        run()


def service_settings(
    settings_class: type[SettingsT], database_url: str, **values: Any
) -> SettingsT:
    """A service's settings for the tests: the test database, quiet logs, no `.env` file, no
    metrics port (tests that want one choose a free one)."""
    values.setdefault("metrics_port", 0)
    return settings_class(
        _env_file=None,
        environment="test",
        database_url=database_url,
        log_json=False,
        log_level="WARNING",
        **values,
    )


def on_test_session(app: FastAPI, session: Session) -> FastAPI:
    """`app`, its requests using the test's `session` (so the test's transaction), also those
    given a connection (`Database.query`)."""
    database: Database = app.state.database

    def test_session(*, read_only: bool = False) -> AbstractContextManager[Session]:
        return nullcontext(session)

    @contextmanager
    def test_connection() -> Iterator[Connection]:
        # As in autocommit: what the statements did stays, whatever happens next, and no
        # transaction is left open; a failed statement changed nothing.
        try:
            yield session.connection()
        except DBAPIError:
            session.rollback()
            raise
        finally:
            if session.in_transaction():
                session.commit()

    database.session = test_session  # type: ignore[method-assign]
    database.autocommit = test_connection  # type: ignore[method-assign]
    return app


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session whose commits are savepoints inside the test's transaction."""
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        yield session


@pytest.fixture(scope="session")
def signer() -> TestSigner:
    """Signs access tokens as auth does; a service's `app` checks them with `signer.verifier()`."""
    return TestSigner()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A started client of the service's `app` fixture (its `tests/conftest.py` defines it)."""
    with TestClient(app) as client:
        yield client


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for the test, as `OTEL_EXPORTER_OTLP_ENDPOINT` turns it on, but into memory:
    what it finished (apps, relays and consumers made after this fixture trace)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = tracing.use_provider(provider)
    try:
        yield exporter
    finally:
        tracing.use_provider(previous)
        provider.shutdown()
