"""Fixtures of the auth service's tests.

From the root conftest: the test database (`engine`, `session`, ...) and `client`, a started
TestClient on `app` below.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import emptied, migrate_fresh, on_test_session, service_settings
from services.auth.config import AuthSettings
from services.auth.keys import generate_pem
from services.auth.main import create_app
from services.auth.models import SCHEMA

SERVICE_DIR = Path(__file__).parents[1]


@pytest.fixture(scope="session")
def auth_schema(engine: Engine) -> None:
    migrate_fresh(engine, schema=SCHEMA, service_dir=SERVICE_DIR)


@pytest.fixture
def session(session: Session, auth_schema: None) -> Session:
    """The root conftest's session, on a migrated `auth` schema (a test may use it alone)."""
    return session


@pytest.fixture(scope="session")
def settings(database_url: str) -> AuthSettings:
    return service_settings(
        AuthSettings, database_url, jwt_private_key=SecretStr(generate_pem().decode())
    )


@pytest.fixture
def app(settings: AuthSettings, auth_schema: None, session: Session) -> FastAPI:
    return on_test_session(create_app(settings), session)


@pytest.fixture
def committed(engine: Engine, auth_schema: None) -> Iterator[Session]:
    """A session whose commits are real (the relay runs in its own connections)."""
    with (
        emptied(engine, "TRUNCATE auth.refresh_token, auth.user, auth.outbox RESTART IDENTITY"),
        Session(engine, expire_on_commit=False) as session,
    ):
        yield session
