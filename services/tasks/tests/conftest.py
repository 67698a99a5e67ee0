"""Fixtures of the tasks service's tests.

From the root conftest: the test database (`engine`, `session`, ...), `signer`, and `client`,
a started TestClient on `app` below. `fake_auth` is auth's users API (`tests/auth_users.py`).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import emptied, migrate_fresh, on_test_session, service_settings
from services.tasks.config import TasksSettings
from services.tasks.main import create_app
from services.tasks.models import SCHEMA
from services.tasks.users import UserDirectory
from tests.auth_users import AUTH_URL, FakeAuthUsers
from tests.tokens import TestSigner

SERVICE_DIR = Path(__file__).parents[1]


@pytest.fixture(scope="session")
def tasks_schema(engine: Engine) -> None:
    migrate_fresh(engine, schema=SCHEMA, service_dir=SERVICE_DIR)


@pytest.fixture
def committed(engine: Engine, tasks_schema: None) -> Iterator[Session]:
    """A session whose commits are real (the relay runs in its own connections)."""
    with (
        emptied(
            engine,
            "TRUNCATE tasks.task, tasks.outbox, tasks.user, tasks.processed_event RESTART IDENTITY",
        ),
        Session(engine, expire_on_commit=False) as session,
    ):
        yield session


@pytest.fixture(scope="session")
def settings(database_url: str) -> TasksSettings:
    return service_settings(TasksSettings, database_url)


@pytest.fixture
def fake_auth() -> FakeAuthUsers:
    return FakeAuthUsers()


@pytest.fixture
def app(
    settings: TasksSettings,
    tasks_schema: None,
    session: Session,
    signer: TestSigner,
    fake_auth: FakeAuthUsers,
) -> FastAPI:
    users = UserDirectory(AUTH_URL, client=fake_auth.client())
    app = create_app(settings, users=users, token_verifier=signer.verifier())
    return on_test_session(app, session)
