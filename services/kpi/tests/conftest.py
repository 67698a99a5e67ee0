from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from conftest import migrate_fresh
from services.kpi.config import KpiSettings
from services.kpi.consumer import handle
from services.kpi.main import create_app
from services.kpi.models import SCHEMA, processed_event
from services.kpi.users import UserNames
from shared.consumer import ConsumerConfig, EventConsumer
from shared.db import Database, get_session
from tests.tokens import TestSigner

SERVICE_DIR = Path(__file__).parents[1]
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


class FakeAuthUsers:
    """The auth service's `GET /auth/users?id=...`, served by `httpx.MockTransport`."""

    def __init__(self) -> None:
        self.names = {user_id: f"user{user_id}" for user_id in range(1, 1000)}
        self.up = True
        self.failure: httpx.Response | None = None
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests.append(request)
        if self.failure is not None:
            return self.failure
        assert request.headers["Authorization"].startswith("Bearer ")
        assert request.url.path == "/auth/users"
        ids = [int(value) for value in request.url.params.get_list("id")]
        assert 1 <= len(ids) <= 200, "auth answers at most 200 ids per request"
        assert request.url.params["page_size"] == "200"
        items = [{"id": i, "username": self.names[i]} for i in sorted(ids) if i in self.names]
        page = {"items": items, "total": len(items), "page": 1, "page_size": 200}
        return httpx.Response(200, json={**page, "next_page": None})


@pytest.fixture(scope="session")
def kpi_schema(engine: Engine) -> None:
    migrate_fresh(engine, schema=SCHEMA, service_dir=SERVICE_DIR)


@pytest.fixture(scope="session")
def settings(database_url: str) -> KpiSettings:
    return KpiSettings(
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
    settings: KpiSettings,
    kpi_schema: None,
    session: Session,
    signer: TestSigner,
    fake_auth: FakeAuthUsers,
) -> FastAPI:
    users = UserNames(
        "http://auth.test", client=httpx.Client(transport=httpx.MockTransport(fake_auth.handle))
    )
    app = create_app(settings, users=users, token_verifier=signer.verifier())
    app.dependency_overrides[get_session] = lambda: session
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


Fetch = Callable[..., Any]


@pytest.fixture
def fetch(client: TestClient, signer: TestSigner) -> Fetch:
    """GET a KPI route as a signed-in user; its JSON body, asserting a 200."""

    def fetch(path: str, **params: Any) -> Any:
        response = client.get(path, params=params, headers=signer.headers(1))
        assert response.status_code == 200, response.text
        return response.json()

    return fetch


@pytest.fixture
def consumer(
    database_url: str, kpi_schema: None, connection: Connection
) -> Iterator[EventConsumer]:
    """The KPI consumer, whose transactions are savepoints inside the test's transaction."""
    database = Database(database_url, pool_size=1)
    database.sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    config = ConsumerConfig(amqp_url=AMQP_URL, exchange="unused", queue="unused")
    yield EventConsumer(config, database=database, processed=processed_event, handler=handle)
    database.dispose()


@pytest.fixture
def committed(engine: Engine, kpi_schema: None) -> Iterator[Session]:
    """A session on committed data (the broker-driven consumer runs in its own connections)."""

    def truncate() -> None:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "TRUNCATE kpi.task_state, kpi.month_counter, kpi.completion_counter,"
                    " kpi.processed_event"
                )
            )

    truncate()
    with Session(engine, expire_on_commit=False) as session:
        yield session
    truncate()
