"""The least-privilege roles of `deploy/db-bootstrap.sh`, on a scratch database of their own."""

import asyncio
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from conftest import fresh_database, service_settings
from services.kpi.config import KpiSettings
from services.kpi.consumer import read_model as kpi_read_model
from services.kpi.consumer import subscriptions as kpi_subscriptions
from shared.core.migrations import upgrade
from shared.messaging import rebuild
from shared.messaging.queues import declare_consumer_queues
from tests.broker import AMQP_URL, channel_to, unique_name

ROOT = Path(__file__).parents[2]
SERVICES = ["auth", "tasks", "logs", "kpi", "hooks"]
READ_MODELS = ["tasks", "logs", "kpi"]  # each has a `<service>_replay` schema for replays


@pytest.fixture(scope="module")
def bootstrapped(database_url: str) -> str:
    """A fresh database, bootstrapped twice (it must be idempotent), each schema migrated by
    its own role; yields the admin URL."""
    # A scratch database beside the test database, named after it (parallel runs differ).
    scratch = (make_url(database_url).database or "efficient_test").removesuffix("_test")
    target = make_url(fresh_database(database_url, f"{scratch}_roles_test"))
    env = {
        **os.environ,
        "ADMIN_DATABASE_URL": target.set(drivername="postgresql").render_as_string(False),
        **{f"{s.upper()}_DB_PASSWORD": f"{s}-secret" for s in SERVICES},
    }
    for _ in range(2):
        subprocess.run(
            ["bash", str(ROOT / "deploy" / "db-bootstrap.sh")],
            env=env,
            check=True,
            capture_output=True,
        )
    for service in SERVICES:
        as_role = target.set(username=f"{service}_svc", password=f"{service}-secret")
        upgrade(ROOT / "services" / service, as_role.render_as_string(hide_password=False))
    return target.render_as_string(hide_password=False)  # left for a look; recreated next run


def _as(url: str, role: str) -> str:
    return (
        make_url(url)
        .set(username=role, password=f"{role.removesuffix('_svc')}-secret")
        .render_as_string(hide_password=False)
    )


@pytest.mark.parametrize("service", SERVICES)
def test_each_role_owns_its_schema_and_its_migrations(bootstrapped: str, service: str) -> None:
    engine = create_engine(_as(bootstrapped, f"{service}_svc"), poolclass=NullPool)
    with engine.connect() as connection:
        owner = connection.scalar(
            text("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = :s"),
            {"s": service},
        )
        version = connection.scalar(text(f'SELECT version_num FROM "{service}".alembic_version'))
    assert owner == f"{service}_svc"
    assert version is not None


@pytest.mark.parametrize(
    ("role", "table"),
    [
        ("tasks_svc", 'auth."user"'),
        ("kpi_svc", "tasks.task"),
        ("logs_svc", "tasks.outbox"),
        ("auth_svc", "kpi.task_state"),
        ("tasks_svc", "logs.activity_log"),
        ("hooks_svc", "tasks.task"),
        ("logs_svc", "hooks.endpoint"),
    ],
)
def test_no_role_can_read_another_services_schema(bootstrapped: str, role: str, table: str) -> None:
    engine = create_engine(_as(bootstrapped, role), poolclass=NullPool)
    with engine.connect() as connection, pytest.raises(ProgrammingError, match="permission"):
        connection.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))


@pytest.mark.parametrize("service", READ_MODELS)
def test_each_read_model_role_owns_its_replay_schema_and_no_other(
    bootstrapped: str, service: str
) -> None:
    engine = create_engine(_as(bootstrapped, f"{service}_svc"), poolclass=NullPool)
    with engine.connect() as connection:
        owners: dict[str, str] = dict(
            connection.execute(
                text(
                    "SELECT nspname, nspowner::regrole::text FROM pg_namespace"
                    " WHERE nspname LIKE '%\\_replay'"
                )
            ).all()
        )
        other = next(s for s in READ_MODELS if s != service)
        with pytest.raises(ProgrammingError, match="permission"):
            connection.execute(text(f"CREATE TABLE {other}_replay.intruder (id int)"))
    assert owners == {f"{s}_replay": f"{s}_svc" for s in READ_MODELS}


def test_a_replay_runs_as_the_services_own_role(bootstrapped: str) -> None:
    settings = service_settings(
        KpiSettings,
        _as(bootstrapped, "kpi_svc"),
        amqp_url=AMQP_URL,
        events_exchange=unique_name("tasks.events"),
        user_events_exchange=unique_name("auth.events"),
    )
    subscriptions = [replace(s, queue=unique_name(s.queue)) for s in kpi_subscriptions(settings)]
    model = replace(kpi_read_model(settings), subscriptions=subscriptions)
    queues = [
        name
        for s in [*subscriptions, *model.replay_subscriptions()]
        for name in (s.queue, f"{s.queue}.retry", f"{s.queue}.dead")
    ]

    async def replay_nothing_new() -> None:
        async with (
            channel_to(AMQP_URL, exchange=settings.events_exchange, queues=queues) as channel,
            channel_to(AMQP_URL, exchange=settings.user_events_exchange),
        ):
            for subscription in subscriptions:
                await declare_consumer_queues(channel, subscription.config(settings))
            await rebuild.start(settings, model)
            await rebuild.finish(settings, model, give_up_after=30)

    asyncio.run(replay_nothing_new())

    engine = create_engine(settings.database_url, poolclass=NullPool)
    with engine.connect() as connection:
        owners = set(
            connection.scalars(
                text("SELECT tableowner FROM pg_tables WHERE schemaname IN ('kpi', 'kpi_replay')")
            )
        )
        shadow = connection.scalar(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'kpi_replay'")
        )
        version = connection.scalar(text("SELECT version_num FROM kpi.alembic_version"))
    assert (owners, shadow, version is not None) == ({"kpi_svc"}, 0, True)
