"""Expand and contract: `prestart` stops before a contract revision on a schema already in use,
`contract` applies it, and every service's migrations build exactly its models."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, create_engine, text

from conftest import fresh_database, migration_drift
from services.auth.models import Base as AuthBase
from services.kpi.models import Base as KpiBase
from services.logs.models import Base as LogsBase
from services.tasks.models import Base as TasksBase
from shared.core.migrations import contract, prestart, upgrade

ROOT = Path(__file__).parents[2]
METADATA: dict[str, MetaData] = {
    "auth": AuthBase.metadata,
    "tasks": TasksBase.metadata,
    "logs": LogsBase.metadata,
    "kpi": KpiBase.metadata,
}


@pytest.fixture(scope="module")
def url(database_url: str) -> str:
    name = database_url.rsplit("/", 1)[1].removesuffix("_test") + "_expand_test"
    return fresh_database(database_url, name)


def on_an_expression_index(change: tuple[Any, ...]) -> bool:
    """An index on an expression: Alembic's comparison cannot read it back from the database
    (it reports it removed and added again)."""
    kind, index = change[0], change[1]
    return kind in {"add_index", "remove_index"} and any(
        not isinstance(element, Column) for element in index.expressions
    )


def kpi_revision(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = connection.scalar(text("SELECT version_num FROM kpi.alembic_version"))
    engine.dispose()
    return str(found)


def test_prestart_leaves_a_contract_revision_for_after_the_rollout(url: str) -> None:
    upgrade(ROOT / "services" / "kpi", url, revision="0004")  # the release before, running

    prestart(ROOT / "services" / "kpi", url)
    assert kpi_revision(url) == "0007"  # 0008 (CONTRACT) waits: old consumers may still run
    prestart(ROOT / "services" / "kpi", url)  # the next pod's prestart changes nothing
    assert kpi_revision(url) == "0007"

    contract(ROOT / "services" / "kpi", url)
    assert kpi_revision(url) == "0008"


@pytest.mark.parametrize("service", sorted(METADATA))
def test_a_new_schema_is_built_whole_and_matches_the_models(url: str, service: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {service} CASCADE"))

    prestart(ROOT / "services" / service, url)  # nothing older can run on a new schema

    drift = migration_drift(engine, schema=service, metadata=METADATA[service])
    assert [change for change in drift if not on_an_expression_index(change)] == []
    engine.dispose()


def test_prestart_with_contract_applies_everything(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS kpi CASCADE"))
    engine.dispose()
    upgrade(ROOT / "services" / "kpi", url, revision="0004")

    prestart(ROOT / "services" / "kpi", url, with_contract=True)  # `make migrate`

    assert kpi_revision(url) == "0008"
