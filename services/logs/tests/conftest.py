"""Fixtures of the logs service's tests.

From the root conftest: the test database (`engine`, `session`, ...), `signer`, and `client`,
a started TestClient on `app` below.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import emptied, migrate_fresh, on_test_session, service_settings
from services.logs.config import LogsSettings
from services.logs.main import create_app
from services.logs.models import SCHEMA
from shared.core.db import Database
from tests.tokens import TestSigner

SERVICE_DIR = Path(__file__).parents[1]


@pytest.fixture(scope="session")
def logs_schema(engine: Engine) -> None:
    migrate_fresh(engine, schema=SCHEMA, service_dir=SERVICE_DIR)


@pytest.fixture(scope="session")
def settings(database_url: str) -> LogsSettings:
    return service_settings(LogsSettings, database_url)


@pytest.fixture
def app(settings: LogsSettings, logs_schema: None, session: Session, signer: TestSigner) -> FastAPI:
    return on_test_session(create_app(settings, token_verifier=signer.verifier()), session)


@pytest.fixture
def committed(engine: Engine, logs_schema: None) -> Iterator[None]:
    """Empty tables before and after: for tests whose data is really committed."""
    with emptied(engine, "TRUNCATE logs.activity_log, logs.processed_event"):
        yield


@pytest.fixture
def database(settings: LogsSettings, committed: None) -> Iterator[Database]:
    """The consumer's own database handle; what it commits is seen by `engine`."""
    database = Database(settings.database_url, pool_size=2)
    yield database
    database.dispose()
