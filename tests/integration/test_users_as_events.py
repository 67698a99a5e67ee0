"""Users as events: auth publishes them, tasks and KPI keep their own directories from them.

Real PostgreSQL and RabbitMQ, real relays and consumers; auth's HTTP API is down for tasks
(`FakeAuthUsers.up = False`), and the KPI service has no way to call it at all.
"""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import Engine

from conftest import fresh_database
from services.auth.config import AuthSettings
from services.auth.main import create_app as create_auth_app
from services.auth.models import OUTBOX as AUTH_OUTBOX
from services.auth.relay import relay_config as auth_relay
from services.kpi.main import create_app as create_kpi_app
from services.kpi.models import user_directory as kpi_users
from services.tasks import consumer as tasks_consumer
from services.tasks.main import create_app as create_tasks_app
from services.tasks.models import user_directory as tasks_users
from services.tasks.relay import relay_config as tasks_relay
from services.tasks.users import UserDirectory
from shared.core.db import Database
from shared.core.migrations import upgrade
from shared.messaging import rebuild
from shared.messaging.relay import OutboxRelay
from shared.messaging.replay import replay
from tests.auth_users import AUTH_URL, FakeAuthUsers
from tests.broker import eventually, running
from tests.integration.conftest import SERVICES, System, migrate, system
from tests.tokens import TestSigner

DEADLINE = 20.0  # seconds for an event to travel outbox -> relay -> broker -> consumer


def known_users(engine: Engine) -> dict[str, dict[int, str]]:
    """The directory of each consumer service, as {service: {id: username}}."""
    with engine.connect() as connection:
        return {
            name: dict(connection.execute(select(table.c.id, table.c.username)).all())
            for name, table in (("tasks", tasks_users), ("kpi", kpi_users))
        }


def register(settings: AuthSettings, username: str) -> int:
    """Register through auth's API, as a person would; the new user's id."""
    with TestClient(create_auth_app(settings)) as client:
        body = {"username": username, "email": f"{username}@example.com", "password": "pw-123456"}
        response = client.post("/auth/register", json=body)
    assert response.status_code == 201, response.text
    user_id: int = response.json()["id"]
    return user_id


def by_user_names(world: System, signer: TestSigner) -> list[tuple[Any, Any]]:
    """`GET /kpi/by-user` this month: (assignee_id, username) per row."""
    now = datetime.now(UTC)
    app = create_kpi_app(world.kpi, token_verifier=signer.verifier())
    with TestClient(app) as client:
        response = client.get(
            "/kpi/by-user", params={"year": now.year, "month": now.month}, headers=signer.headers(1)
        )
    assert response.status_code == 200, response.text
    return [(item["assignee_id"], item["username"]) for item in response.json()["items"]]


def test_a_new_user_reaches_both_directories_and_needs_auth_no_more(
    committed_system: System, engine: Engine, database_url: str, signer: TestSigner
) -> None:
    world = committed_system
    auth_down = FakeAuthUsers()
    auth_down.up = False
    tasks_app = create_tasks_app(
        world.tasks,
        users=UserDirectory(AUTH_URL, client=auth_down.client()),
        token_verifier=signer.verifier(),
    )
    database = Database(database_url, pool_size=4)

    async def scenario() -> None:
        async with (
            world.broker(),
            running(
                OutboxRelay(auth_relay(world.auth)),
                OutboxRelay(tasks_relay(world.tasks)),
                *world.consumers(database),
            ),
        ):
            ada = register(world.auth, "ada")
            await eventually(
                lambda: known_users(engine) == {"tasks": {ada: "ada"}, "kpi": {ada: "ada"}},
                within=DEADLINE,
            )
            with TestClient(tasks_app) as client:
                created = client.post(
                    "/tasks/",
                    json={"title": "Review", "assignee_id": ada},
                    headers=signer.headers(1),
                )
            assert created.status_code == 201, created.text
            await eventually(
                lambda: by_user_names(world, signer) == [(ada, "ada")], within=DEADLINE
            )

    asyncio.run(scenario())
    database.dispose()
    assert auth_down.requests == []  # tasks never reached auth's API


def test_existing_users_reach_both_directories_after_the_upgrade_and_a_replay_rebuilds_one(
    database_url: str,
) -> None:
    name = database_url.rsplit("/", 1)[1].removesuffix("_test") + "_users_upgrade_test"
    url = fresh_database(database_url, name)
    world = system(url)
    engine = create_engine(url)
    create_users_before_the_upgrade(url, engine)
    migrate(url)  # auth 0002 writes one user.registered per existing user
    database = Database(url, pool_size=4)
    before = {1: "early", 2: "boss"}

    async def scenario() -> None:
        async with (
            world.broker(),
            running(OutboxRelay(auth_relay(world.auth)), *world.consumers(database)),
        ):
            await eventually(
                lambda: known_users(engine) == {"tasks": before, "kpi": before}, within=DEADLINE
            )
            with engine.begin() as connection:  # a directory gone wrong
                connection.execute(update(tasks_users).values(username="stale"))
            model = replace(
                tasks_consumer.read_model(world.tasks), subscriptions=world.tasks_subscriptions
            )
            await rebuild.start(world.tasks, model)
            [replay_queue] = [s.queue for s in model.replay_subscriptions()]
            assert await replay(world.auth, outbox=AUTH_OUTBOX, queue=replay_queue) == 2
            await rebuild.finish(world.tasks, model, give_up_after=DEADLINE)
            assert known_users(engine)["tasks"] == before

    asyncio.run(scenario())
    database.dispose()
    engine.dispose()


def create_users_before_the_upgrade(url: str, engine: Engine) -> None:
    """An auth schema at revision 0001 (before user events existed) with two users."""
    upgrade(SERVICES / "auth", url, revision="0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO auth.user (username, email, password_hash, role) VALUES"
                " ('early', 'early@example.com', 'x', 'user'),"
                " ('boss', 'boss@example.com', 'x', 'admin')"
            )
        )
