from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import migrate_fresh
from services.tasks.config import TasksSettings
from services.tasks.main import create_app
from services.tasks.models import SCHEMA
from services.tasks.users import UserDirectory
from shared.db import get_session
from tests.tokens import TestSigner

SERVICE_DIR = Path(__file__).parents[1]


class FakeAuthUsers:
    """The auth service's `GET /auth/users/{id}`, served by `httpx.MockTransport`."""

    def __init__(self) -> None:
        self.known: set[int] = set(range(1, 100))
        self.up = True

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        assert request.headers["Authorization"].startswith("Bearer ")
        user_id = int(request.url.path.rsplit("/", 1)[1])
        if user_id in self.known:
            return httpx.Response(200, json={"id": user_id, "username": f"user{user_id}"})
        return httpx.Response(404, json={"code": "not_found", "message": "No user has this id."})


@pytest.fixture(scope="session")
def tasks_schema(engine: Engine) -> None:
    migrate_fresh(engine, schema=SCHEMA, service_dir=SERVICE_DIR)


@pytest.fixture
def committed(engine: Engine, tasks_schema: None) -> Iterator[Session]:
    """A session whose commits are real (the relay runs in its own connections)."""

    def truncate() -> None:
        with engine.begin() as connection:
            connection.execute(text("TRUNCATE tasks.task, tasks.outbox RESTART IDENTITY"))

    truncate()
    with Session(engine, expire_on_commit=False) as session:
        yield session
    truncate()


@pytest.fixture(scope="session")
def settings(database_url: str) -> TasksSettings:
    return TasksSettings(
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
    users = UserDirectory(
        "http://auth.test", client=httpx.Client(transport=httpx.MockTransport(fake_auth.handle))
    )
    app = create_app(settings, users=users, token_verifier=signer.verifier())
    app.dependency_overrides[get_session] = lambda: session
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
