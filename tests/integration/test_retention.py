"""`manage maintain`: each trim reads an index, keeps what its retention keeps, and one run of
a service at a time."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from services.auth import manage as auth_manage
from services.auth.models import OUTBOX as AUTH_OUTBOX
from services.kpi import manage as kpi_manage
from services.logs import manage as logs_manage
from services.tasks import manage as tasks_manage
from services.tasks.models import OUTBOX as TASKS_OUTBOX
from shared.core.retention import Trim, maintain
from shared.messaging.maintenance import outbox_trim
from tests.integration.conftest import System

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def every_trim(world: System) -> list[Trim]:
    return [
        *auth_manage.OPERATIONS.maintenance(world.auth),
        # OUTBOX_RETENTION_DAYS 0 (the default): no trim of the outboxes, so these two here.
        outbox_trim(AUTH_OUTBOX, keep=timedelta(days=30)),
        outbox_trim(TASKS_OUTBOX, keep=timedelta(days=30)),
        *tasks_manage.OPERATIONS.maintenance(world.tasks),
        *kpi_manage.OPERATIONS.maintenance(world.kpi),
        *logs_manage.OPERATIONS.maintenance(world.logs),
    ]


def test_every_trim_finds_its_rows_through_an_index(
    committed_system: System, engine: Engine
) -> None:
    trims = every_trim(committed_system)
    assert {trim.table.fullname for trim in trims} == {
        "auth.refresh_token",
        "auth.login_attempt",
        "auth.outbox",
        "tasks.outbox",
        "tasks.processed_event",
        "kpi.processed_event",
        "logs.processed_event",
    }
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL enable_seqscan = off"))  # as on a big table
        for trim in trims:
            query = select(text("ctid")).select_from(trim.table).where(trim.expired(NOW))
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            plan = "\n".join(connection.execute(text(f"EXPLAIN {compiled}")).scalars())
            assert "Index" in plan, (trim.table.fullname, plan)
            assert "Seq Scan" not in plan, (trim.table.fullname, plan)


def test_a_trim_keeps_what_its_retention_keeps_and_goes_through_every_batch(
    committed_system: System, engine: Engine, database_url: str
) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO logs.processed_event (event_id, processed_at)"
                " SELECT gen_random_uuid(), :now - make_interval(days => n) FROM"
                " generate_series(1, 30) AS n"
            ),
            {"now": NOW},
        )
    trims = logs_manage.OPERATIONS.maintenance(committed_system.logs)  # 14 days

    deleted = maintain(database_url, schema="logs", trims=trims, batch=4, now=NOW)

    assert deleted == {"logs.processed_event": 16}  # 15..30 days old; 4 rows a transaction
    with engine.connect() as connection:
        oldest = connection.scalar(
            text("SELECT max(:now - processed_at) FROM logs.processed_event"), {"now": NOW}
        )
    assert oldest == timedelta(days=14)


def test_a_second_maintain_of_a_service_does_nothing_while_one_runs(
    committed_system: System, engine: Engine, database_url: str
) -> None:
    trims = logs_manage.OPERATIONS.maintenance(committed_system.logs)
    with engine.connect() as holder:  # as a run in progress holds it
        holder.execute(text("SELECT pg_advisory_lock(hashtext('efficient-system maintain logs'))"))
        assert maintain(database_url, schema="logs", trims=trims) is None
        assert maintain(database_url, schema="kpi", trims=[]) == {}  # other services go on
        holder.execute(
            text("SELECT pg_advisory_unlock(hashtext('efficient-system maintain logs'))")
        )
    assert maintain(database_url, schema="logs", trims=trims) == {"logs.processed_event": 0}
