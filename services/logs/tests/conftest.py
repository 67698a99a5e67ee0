from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import migrate_fresh
from services.logs.config import LogsSettings
from services.logs.main import create_app
from services.logs.models import SCHEMA
from shared.db import Database, get_session
from tests.tokens import TestSigner

SERVICE_DIR = Path(__file__).parents[1]


@pytest.fixture(scope="session")
def logs_schema(engine: Engine) -> None:
    migrate_fresh(engine, schema=SCHEMA, service_dir=SERVICE_DIR)


@pytest.fixture(scope="session")
def settings(database_url: str) -> LogsSettings:
    return LogsSettings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        log_json=False,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
def signer() -> TestSigner:
    return TestSigner()


@pytest.fixture
def app(settings: LogsSettings, logs_schema: None, session: Session, signer: TestSigner) -> FastAPI:
    app = create_app(settings, token_verifier=signer.verifier())
    app.dependency_overrides[get_session] = lambda: session
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def committed(engine: Engine, logs_schema: None) -> Iterator[None]:
    """Empty tables before and after: for tests whose data is really committed."""

    def truncate() -> None:
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE logs.activity_log, logs.processed_event"))

    truncate()
    yield
    truncate()


@pytest.fixture
def database(settings: LogsSettings, committed: None) -> Iterator[Database]:
    """The consumer's own database handle; what it commits is seen by `engine`."""
    database = Database(settings.database_url, pool_size=2)
    yield database
    database.dispose()
