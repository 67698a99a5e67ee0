"""Fixtures of the KPI service's tests.

From the root conftest: the test database (`engine`, `session`, ...), `signer`, and `client`,
a started TestClient on `app` below. The KPI service never calls auth's HTTP API: there is no
fake of it here.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from conftest import emptied, migrate_fresh, on_test_session, service_settings
from services.kpi.config import KpiSettings
from services.kpi.consumer import handle, handle_batch
from services.kpi.main import create_app
from services.kpi.models import SCHEMA, processed_event
from shared.contracts.events import TASK_EVENTS, TaskEvent
from shared.core.db import Database
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig
from tests.broker import AMQP_URL
from tests.tokens import TestSigner

SERVICE_DIR = Path(__file__).parents[1]


@pytest.fixture(scope="session")
def kpi_schema(engine: Engine) -> None:
    migrate_fresh(engine, schema=SCHEMA, service_dir=SERVICE_DIR)


@pytest.fixture(scope="session")
def settings(database_url: str) -> KpiSettings:
    return service_settings(KpiSettings, database_url)


@pytest.fixture
def app(
    settings: KpiSettings,
    kpi_schema: None,
    session: Session,
    signer: TestSigner,
) -> FastAPI:
    app = create_app(settings, token_verifier=signer.verifier())
    return on_test_session(app, session)


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
) -> Iterator[EventConsumer[TaskEvent]]:
    """The KPI consumer, whose transactions are savepoints inside the test's transaction."""
    database = Database(database_url, pool_size=1)
    database.sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    config = ConsumerConfig(
        amqp_url=AMQP_URL, exchange="unused", queue="unused", binding_key=TASK_EVENTS
    )
    yield EventConsumer(
        config,
        model=TaskEvent,
        database=database,
        processed=processed_event,
        handler=handle,
        batch_handler=handle_batch,  # as the kpi consumer runs
    )
    database.dispose()


@pytest.fixture
def committed(engine: Engine, kpi_schema: None) -> Iterator[Session]:
    """A session on committed data (the broker-driven consumer runs in its own connections)."""
    with (
        emptied(
            engine,
            "TRUNCATE kpi.task_state, kpi.month_counter, kpi.completion_counter,"
            " kpi.user, kpi.processed_event, kpi.due_counter, kpi.due_day_counter,"
            " kpi.task_history, kpi.task_flow, kpi.flow_completion, kpi.flow_status_delta",
        ),
        Session(engine, expire_on_commit=False) as session,
    ):
        yield session
