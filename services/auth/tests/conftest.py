from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import migrate_fresh
from services.auth.config import AuthSettings
from services.auth.keys import generate_pem
from services.auth.main import create_app
from services.auth.models import SCHEMA
from shared.db import get_session

SERVICE_DIR = Path(__file__).parents[1]


@pytest.fixture(scope="session")
def auth_schema(engine: Engine) -> None:
    migrate_fresh(engine, schema=SCHEMA, service_dir=SERVICE_DIR)


@pytest.fixture(scope="session")
def settings(database_url: str) -> AuthSettings:
    return AuthSettings(
        _env_file=None,
        environment="test",
        database_url=database_url,
        jwt_private_key=SecretStr(generate_pem().decode()),
        log_json=False,
        log_level="WARNING",
    )


@pytest.fixture
def app(settings: AuthSettings, auth_schema: None, session: Session) -> FastAPI:
    app = create_app(settings)
    app.dependency_overrides[get_session] = lambda: session
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
