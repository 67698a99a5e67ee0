"""`make replay CONSUMER=kpi` as it runs: the KPI read model rebuilt while tasks keep changing.

Real PostgreSQL and RabbitMQ: the tasks relay and the KPI consumers run throughout, task writes
go on through the tasks service, and the replay's three steps run as the Makefile runs them.
"""

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.auth.models import OUTBOX as AUTH_OUTBOX
from services.kpi import consumer as kpi_consumer
from services.kpi.main import create_app as create_kpi_app
from services.kpi.models import MonthCounter, processed_event
from services.tasks import consumer as tasks_consumer
from services.tasks import service as tasks_service
from services.tasks.main import create_app as create_tasks_app
from services.tasks.models import OUTBOX as TASKS_OUTBOX
from services.tasks.models import OutboxEvent
from services.tasks.relay import relay_config as tasks_relay
from services.tasks.schemas import TaskCreate, TaskUpdate
from services.tasks.tests.factories import ACTOR, UNUSED_USERS
from shared.contracts.events import TaskStatus
from shared.core.db import Database
from shared.core.readmodel import shadow_schema
from shared.messaging import generations, rebuild
from shared.messaging.relay import OutboxRelay
from shared.messaging.replay import replay
from tests.broker import eventually, running
from tests.integration.conftest import System
from tests.tokens import TestSigner

DEADLINE = 30.0
RECOUNT = text(
    "SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date, coalesce(assignee_id, 0),"
    " status, count(*) FROM tasks.task GROUP BY 1, 2, 3"
)


def recount(engine: Engine) -> dict[tuple[Any, int, str], int]:
    """The month counters from scratch, from the tasks themselves."""
    with engine.connect() as connection:
        return {(row[0], row[1], row[2]): row[3] for row in connection.execute(RECOUNT)}


def counters(engine: Engine) -> dict[tuple[Any, int, str], int]:
    """The KPI read model's month counters (rows at zero left out)."""
    query = select(
        MonthCounter.month, MonthCounter.assignee_key, MonthCounter.status, MonthCounter.count
    )
    with engine.connect() as connection:
        return {(row[0], row[1], row[2]): row[3] for row in connection.execute(query) if row[3]}


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(table)) or 0


def all_applied(engine: Engine) -> bool:
    """Every task event is applied (by its claim), and the counters add up to a recount."""
    applied = count(engine, processed_event) == count(engine, OutboxEvent)
    return applied and counters(engine) == recount(engine)


def write(engine: Engine, n: int) -> None:
    """One task write, as the API makes it: create, or finish / reopen an earlier task."""
    with Session(engine, expire_on_commit=False) as session:
        if n % 3 == 0:
            data = TaskCreate(title=f"task {n}")
            tasks_service.create_task(
                session.connection(), data=data, actor=ACTOR, users=UNUSED_USERS
            )
            session.commit()
            return
        status = TaskStatus.DONE if n % 3 == 1 else TaskStatus.IN_PROGRESS
        tasks_service.update_task(
            session,
            task_id=1 + n % 20,
            data=TaskUpdate(status=status),
            actor=ACTOR,
            expected_versions=None,
            users=UNUSED_USERS,
        )


async def keep_going(step: Callable[[int], Any], stop: asyncio.Event, done: list[Any]) -> None:
    """`step(n)` in a thread every 20 ms until `stop`; what each returned, in `done`."""
    while not stop.is_set():
        done.append(await asyncio.to_thread(step, len(done)))
        await asyncio.sleep(0.02)


def test_a_replay_while_tasks_keep_changing_never_empties_the_kpis(
    committed_system: System, engine: Engine, signer: TestSigner
) -> None:
    world = committed_system
    model = replace(kpi_consumer.read_model(world.kpi), subscriptions=world.kpi_subscriptions)
    [task_queue, user_queue] = [s.queue for s in model.replay_subscriptions()]
    database = Database(world.kpi.database_url, pool_size=4)
    now = datetime.now(UTC)
    writes: list[None] = []
    totals: list[int] = []

    with TestClient(create_kpi_app(world.kpi, token_verifier=signer.verifier())) as client:

        def total_tasks(_: int) -> int:
            params = {"year": now.year, "month": now.month}
            answer = client.get("/kpi/completion-rate", params=params, headers=signer.headers(1))
            assert answer.status_code == 200, answer.text
            total: int = answer.json()["total_tasks"]
            return total

        async def scenario() -> None:
            async with (
                world.broker(),
                running(OutboxRelay(tasks_relay(world.tasks)), *world.consumers(database)),
            ):
                for n in range(60):
                    await asyncio.to_thread(write, engine, 3 * n)  # 60 tasks created
                await eventually(lambda: counters(engine) == recount(engine), within=DEADLINE)
                corrupt_one_counter(engine)  # what a replay is for: a read model gone wrong
                stop = asyncio.Event()
                background = [
                    asyncio.create_task(keep_going(lambda n: write(engine, n), stop, writes)),
                    asyncio.create_task(keep_going(total_tasks, stop, totals)),
                ]
                try:
                    await rebuild.start(world.kpi, model)
                    await replay(world.tasks, outbox=TASKS_OUTBOX, queue=task_queue)
                    await replay(world.auth, outbox=AUTH_OUTBOX, queue=user_queue)
                    await rebuild.finish(world.kpi, model, give_up_after=DEADLINE)
                finally:
                    stop.set()
                    await asyncio.gather(*background)
                await eventually(lambda: all_applied(engine), within=DEADLINE)

        asyncio.run(scenario())
    database.dispose()

    assert min(totals) >= 60  # never empty
    assert len(writes) > 10  # tasks kept changing while it ran
    assert counters(engine) == recount(engine)  # each event applied once, none lost
    with engine.connect() as connection:
        shadow = connection.scalar(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"),
            {"s": shadow_schema("kpi")},
        )
    assert shadow == 0


def corrupt_one_counter(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(MonthCounter)
            .where(MonthCounter.status == TaskStatus.TODO.value)
            .values(count=MonthCounter.count + 5)
        )


@pytest.mark.parametrize("service", ["kpi", "tasks"])
def test_answers_say_replaying_while_a_shadow_generation_exists(
    committed_system: System, engine: Engine, signer: TestSigner, service: str
) -> None:
    world = committed_system
    if service == "kpi":
        app = create_kpi_app(world.kpi, token_verifier=signer.verifier())
        model = kpi_consumer.read_model(world.kpi)
        path = "/kpi/completion-rate"
    else:
        app = create_tasks_app(world.tasks, token_verifier=signer.verifier())
        model = tasks_consumer.read_model(world.tasks)
        path = "/tasks/"

    with TestClient(app) as client:

        def header() -> str | None:
            answer = client.get(path, headers=signer.headers(1))
            assert answer.status_code == 200, answer.text
            return answer.headers.get("X-Read-Model")

        assert header() is None
        generations.create_shadow(
            engine, tables=model.tables, schema=model.schema, shadow=model.shadow
        )
        try:
            asyncio.run(eventually(lambda: header() == "replaying"))
        finally:
            with engine.begin() as connection:
                generations.drop_shadow(connection, shadow=model.shadow)
        asyncio.run(eventually(lambda: header() is None))
