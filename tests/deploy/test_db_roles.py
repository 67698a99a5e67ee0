"""The least-privilege roles of `deploy/db-bootstrap.sh`, on a scratch database of their own."""

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from conftest import fresh_database
from shared.migrations import upgrade

ROOT = Path(__file__).parents[2]
SERVICES = ["auth", "tasks", "logs", "kpi"]
DATABASE = "efficient_roles_test"


@pytest.fixture(scope="module")
def bootstrapped(database_url: str) -> str:
    """A fresh database, bootstrapped twice (it must be idempotent), each schema migrated by
    its own role; yields the admin URL."""
    target = make_url(fresh_database(database_url, DATABASE))
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
    ],
)
def test_no_role_can_read_another_services_schema(bootstrapped: str, role: str, table: str) -> None:
    engine = create_engine(_as(bootstrapped, role), poolclass=NullPool)
    with engine.connect() as connection, pytest.raises(ProgrammingError, match="permission"):
        connection.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
