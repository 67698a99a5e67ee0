"""Fixtures of the hooks service's tests.

From the root conftest: the test database (`engine`, `session`, ...), `signer`, and `client`,
a started TestClient on `app` below. `receiver` is a real HTTP receiver on 127.0.0.1, which the
settings allow (`HOOKS_ALLOWED_TARGETS=127.0.0.1/32`); `strict_settings` allow nothing.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import emptied, migrate_fresh, on_test_session, service_settings
from services.hooks.config import HooksSettings
from services.hooks.main import create_app
from services.hooks.models import SCHEMA
from services.hooks.tests.receiver import Receiver
from shared.core.db import Database
from tests.tokens import TestSigner

SERVICE_DIR = Path(__file__).parents[1]


@pytest.fixture(scope="session")
def hooks_schema(engine: Engine) -> None:
    migrate_fresh(engine, schema=SCHEMA, service_dir=SERVICE_DIR)


@pytest.fixture(scope="session")
def settings(database_url: str) -> HooksSettings:
    return service_settings(
        HooksSettings,
        database_url,
        hooks_allowed_targets="127.0.0.1/32",
        hooks_attempt_timeout_seconds=2.0,
        hooks_poll_seconds=0.1,
    )


@pytest.fixture(scope="session")
def strict_settings(database_url: str) -> HooksSettings:
    """No allow-list: every internal address is refused."""
    return service_settings(HooksSettings, database_url)


@pytest.fixture
def app(
    settings: HooksSettings, hooks_schema: None, session: Session, signer: TestSigner
) -> FastAPI:
    return on_test_session(create_app(settings, token_verifier=signer.verifier()), session)


@pytest.fixture
def committed(engine: Engine, hooks_schema: None) -> Iterator[None]:
    """Empty tables before and after: for tests whose data is really committed."""
    with emptied(engine, "TRUNCATE hooks.endpoint, hooks.processed_event CASCADE"):
        yield


@pytest.fixture
def database(settings: HooksSettings, committed: None) -> Iterator[Database]:
    """The consumer's and dispatchers' database handle; what it commits `engine` sees."""
    database = Database(settings.database_url, pool_size=4)
    yield database
    database.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    yield receiver
    receiver.stop()
