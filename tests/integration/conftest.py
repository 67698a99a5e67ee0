"""Auth, tasks, logs and KPI together on the test database and broker names of each test's own.

Each test runs the real relays and consumers (`running`) and the apps through TestClient on
committed data; only auth's HTTP API as tasks sees it is faked (`tests/auth_users.py`).
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from conftest import emptied, service_settings
from services.auth.config import AuthSettings
from services.auth.keys import generate_pem
from services.kpi import consumer as kpi_consumer
from services.kpi.config import KpiSettings
from services.kpi.models import processed_event as kpi_processed
from services.logs import consumer as logs_consumer
from services.logs.config import LogsSettings
from services.logs.models import processed_event as logs_processed
from services.tasks import consumer as tasks_consumer
from services.tasks.config import TasksSettings
from services.tasks.models import processed_event as tasks_processed
from shared.core.db import Database
from shared.core.migrations import upgrade
from shared.messaging.consumer import EventConsumer
from shared.messaging.rebuild import replay_queue
from shared.messaging.subscriptions import Subscription, ensure_consumer_queues
from tests.broker import AMQP_URL, channel_to, unique_name

SERVICES = Path(__file__).parents[2] / "services"
TRUNCATE = (
    "TRUNCATE auth.refresh_token, auth.user, auth.outbox, tasks.task, tasks.outbox, tasks.user,"
    " tasks.processed_event, kpi.task_state, kpi.month_counter, kpi.completion_counter,"
    " kpi.due_counter, kpi.due_day_counter,"
    " kpi.user, kpi.processed_event, logs.activity_log, logs.processed_event RESTART IDENTITY"
)


@dataclass(frozen=True)
class System:
    """The four services' settings, on this test's own exchanges and queues."""

    auth: AuthSettings
    tasks: TasksSettings
    kpi: KpiSettings
    logs: LogsSettings
    tasks_subscriptions: list[Subscription[Any]]
    kpi_subscriptions: list[Subscription[Any]]
    logs_subscriptions: list[Subscription[Any]]

    def consumers(self, database: Database) -> list[EventConsumer[Any]]:
        """Every consumer of tasks and KPI, as their processes run them."""
        return [
            *(s.consumer(self.tasks, database=database, processed=tasks_processed)
              for s in self.tasks_subscriptions),
            *(s.consumer(self.kpi, database=database, processed=kpi_processed)
              for s in self.kpi_subscriptions),
        ]  # fmt: skip

    def logs_consumers(self, database: Database) -> list[EventConsumer[Any]]:
        """The logs consumer, as its process runs it."""
        return [
            s.consumer(self.logs, database=database, processed=logs_processed)
            for s in self.logs_subscriptions
        ]

    @asynccontextmanager
    async def broker(self) -> AsyncIterator[None]:
        """The consumers' queues, declared first as prestart does (so no event passes them by);
        afterwards the test's exchanges and queues are deleted (on connections opened then: the
        broker node of the start may be gone)."""
        queues = [
            name
            for s in self.tasks_subscriptions + self.kpi_subscriptions + self.logs_subscriptions
            for queue in (s.queue, replay_queue(s.queue))  # a replay's, left by a failed test
            for name in (queue, f"{queue}.retry", f"{queue}.dead")
        ]
        try:
            await asyncio.to_thread(ensure_consumer_queues, self.tasks, self.tasks_subscriptions)
            await asyncio.to_thread(ensure_consumer_queues, self.kpi, self.kpi_subscriptions)
            await asyncio.to_thread(ensure_consumer_queues, self.logs, self.logs_subscriptions)
            yield
        finally:
            url = self.auth.amqp_url
            async with (
                channel_to(url, exchange=self.auth.user_events_exchange, queues=queues),
                channel_to(url, exchange=self.tasks.events_exchange),
            ):
                pass


def system(database_url: str, *, amqp_url: str = AMQP_URL) -> System:
    """Settings for all four services on `database_url` and the broker at `amqp_url`, with
    broker names of the test's own."""
    names = {
        "amqp_url": amqp_url,
        "events_exchange": unique_name("tasks.events"),
        "user_events_exchange": unique_name("auth.events"),
    }
    relay = {"relay_poll_seconds": 0.2, "relay_retry_seconds": 0.2}
    key = SecretStr(generate_pem().decode())
    tasks = service_settings(TasksSettings, database_url, **names, **relay)
    kpi = service_settings(KpiSettings, database_url, **names)
    logs = service_settings(LogsSettings, database_url, **names)
    return System(
        auth=service_settings(AuthSettings, database_url, jwt_private_key=key, **names, **relay),
        tasks=tasks,
        kpi=kpi,
        logs=logs,
        tasks_subscriptions=_own_queues(tasks_consumer.subscriptions(tasks)),
        kpi_subscriptions=_own_queues(kpi_consumer.subscriptions(kpi)),
        logs_subscriptions=_own_queues(logs_consumer.subscriptions(logs)),
    )


def _own_queues(subscriptions: list[Subscription[Any]]) -> list[Subscription[Any]]:
    return [replace(s, queue=unique_name(s.queue)) for s in subscriptions]


def migrate(database_url: str) -> None:
    """Bring the auth, tasks, kpi and logs schemas to their newest revision."""
    for service in ("auth", "tasks", "kpi", "logs"):
        upgrade(SERVICES / service, database_url)


@pytest.fixture
def committed_system(database_url: str, engine: Engine) -> Iterator[System]:
    """The system on the test database, its tables emptied before and after."""
    migrate(database_url)
    with emptied(engine, TRUNCATE):
        yield system(database_url)
