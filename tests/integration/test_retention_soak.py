"""Tables stay bounded while logins and writes go on: `manage maintain` between the days.

Real apps (auth logins, refreshes and failed logins; task writes), relays and consumers on the
test database and broker. A day passes between rounds: each trimmed table's timestamps move a
day back (the calendar, without waiting), then every service's maintain runs with small
batches. Each table then holds at most what its retention keeps, while the totals grow.
"""

import asyncio
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from services.auth import manage as auth_manage
from services.auth.main import create_app as create_auth_app
from services.auth.relay import relay_config as auth_relay
from services.kpi import manage as kpi_manage
from services.logs import manage as logs_manage
from services.tasks import manage as tasks_manage
from services.tasks.main import create_app as create_tasks_app
from services.tasks.relay import relay_config as tasks_relay
from shared.core.db import Database
from shared.core.retention import Trim, maintain
from shared.messaging.relay import OutboxRelay
from tests.broker import eventually, running
from tests.integration.conftest import System
from tests.tokens import TestSigner

ROUNDS = 10
PER_ROUND = 6  # logins, refreshes, failed logins and task writes a day
DEADLINE = 30.0
# Each table's timestamps, moved a day back between rounds.
AGED = {
    "auth.refresh_token": ["created_at", "expires_at", "revoked_at"],
    "auth.login_attempt": ["window_started_at", "last_at"],
    "auth.outbox": ["created_at", "published_at"],
    "tasks.outbox": ["created_at", "published_at"],
    "tasks.processed_event": ["processed_at"],
    "kpi.processed_event": ["processed_at"],
    "logs.processed_event": ["processed_at"],
}


def a_day_passes(engine: Engine) -> None:
    with engine.begin() as connection:
        for table, columns in AGED.items():
            moved = ", ".join(f"{column} = {column} - interval '1 day'" for column in columns)
            connection.execute(text(f"UPDATE {table} SET {moved}"))


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in AGED
        }


def maintain_every_service(world: System) -> None:
    """Each service's `manage maintain`, with the test's settings and batches of 4 rows."""
    services: list[tuple[str, list[Trim]]] = [
        ("auth", auth_manage.OPERATIONS.maintenance(world.auth)),
        ("tasks", tasks_manage.OPERATIONS.maintenance(world.tasks)),
        ("kpi", kpi_manage.OPERATIONS.maintenance(world.kpi)),
        ("logs", logs_manage.OPERATIONS.maintenance(world.logs)),
    ]
    for schema, trims in services:
        assert maintain(world.kpi.database_url, schema=schema, trims=trims, batch=4) is not None


def short_retentions(world: System) -> System:
    """Refresh tokens live a day and go the day after; login counts after a minute; events
    published a day ago go; processed ids after the minimum week."""
    auth: Any = world.auth.model_copy(
        update={
            "refresh_token_expire_days": 1,  # the shortest allowed
            "refresh_token_retention_days": 0,
            "login_window_seconds": 60,
            "login_max_wait_seconds": 1,
            "outbox_retention_days": 1,
            "processed_event_retention_days": 7,
        }
    )
    week = {"processed_event_retention_days": 7}
    tasks: Any = world.tasks.model_copy(update={"outbox_retention_days": 1, **week})
    return System(
        auth=auth,
        tasks=tasks,
        kpi=world.kpi.model_copy(update=week),
        logs=world.logs.model_copy(update=week),
        tasks_subscriptions=world.tasks_subscriptions,
        kpi_subscriptions=world.kpi_subscriptions,
        logs_subscriptions=world.logs_subscriptions,
    )


def test_tables_stay_bounded_while_logins_and_writes_go_on(
    committed_system: System, engine: Engine, database_url: str, signer: TestSigner
) -> None:
    world = short_retentions(committed_system)
    database = Database(database_url, pool_size=4)
    tasks_app = create_tasks_app(world.tasks, token_verifier=signer.verifier())
    written: dict[str, int] = dict.fromkeys(["refresh tokens", "failed logins", "tasks"], 0)
    seen: list[dict[str, int]] = []

    def one_day(auth: TestClient, tasks: TestClient, day: int) -> None:
        for n in range(PER_ROUND):
            login = {"username": "ada", "password": "pw-123456"}
            tokens = auth.post("/auth/login", json=login)
            assert tokens.status_code == 200, tokens.text
            refreshed = auth.post(
                "/auth/refresh", json={"refresh_token": tokens.json()["refresh_token"]}
            )
            assert refreshed.status_code == 200, refreshed.text
            wrong = {"username": f"nobody-{day}-{n}", "password": "not-the-password"}
            assert auth.post("/auth/login", json=wrong).status_code == 401
            created = tasks.post(
                "/tasks/", json={"title": f"day {day} #{n}"}, headers=signer.headers(1)
            )
            assert created.status_code == 201, created.text
        written["refresh tokens"] += 2 * PER_ROUND
        written["failed logins"] += PER_ROUND
        written["tasks"] += PER_ROUND

    def caught_up() -> bool:
        with engine.connect() as connection:
            waiting = connection.scalar(
                text(
                    "SELECT (SELECT count(*) FROM tasks.outbox WHERE published_at IS NULL)"
                    " + (SELECT count(*) FROM auth.outbox WHERE published_at IS NULL)"
                )
            )
            applied = connection.scalar(text("SELECT count(*) FROM logs.activity_log"))
        return bool(waiting == 0 and applied == written["tasks"])

    async def scenario() -> None:
        async with (
            world.broker(),
            running(
                OutboxRelay(auth_relay(world.auth)),
                OutboxRelay(tasks_relay(world.tasks)),
                *world.consumers(database),
                *world.logs_consumers(database),
            ),
        ):
            with (
                TestClient(create_auth_app(world.auth)) as auth,
                TestClient(tasks_app) as tasks,
            ):
                body = {"username": "ada", "email": "ada@example.com", "password": "pw-123456"}
                assert auth.post("/auth/register", json=body).status_code == 201
                for day in range(ROUNDS):
                    one_day(auth, tasks, day)
                    await eventually(caught_up, within=DEADLINE)
                    a_day_passes(engine)
                    await asyncio.to_thread(maintain_every_service, world)
                    seen.append(counts(engine))

    asyncio.run(scenario())
    database.dispose()

    day = PER_ROUND  # rows one day writes to each table (a task write: one event, three ids)
    bounds = {
        "auth.refresh_token": 2 * (2 * day),  # expire after a day, deleted the day after
        "auth.login_attempt": 0,  # two counts a failed login, gone once a day has passed
        "auth.outbox": 1,  # ada's registration: published a day ago, then gone
        "tasks.outbox": day,  # published a day ago: gone the next day
        "tasks.processed_event": 1,  # ada's registration
        "kpi.processed_event": 7 * day + 1,  # ids are kept a week (the minimum)
        "logs.processed_event": 7 * day,
    }
    for counted in seen:
        for table, bound in bounds.items():
            assert counted[table] <= bound, (table, seen)
    assert written["refresh tokens"] == ROUNDS * 2 * day > bounds["auth.refresh_token"]
    assert written["tasks"] == ROUNDS * day > bounds["tasks.outbox"]
    assert seen[-1]["logs.processed_event"] < written["tasks"]  # the oldest ids went
