"""A rolling upgrade of kpi from the release before 0005: nothing dead-lettered, KPIs exact.

The release before is that commit's own code (`git archive` of the parent of the commit that
added 0005), run as a consumer process on a database and RabbitMQ vhost of this test's own. It
applies events while this release's `prestart` migrates (expand only), and after; then this
release's consumer runs beside it, the old one stops, `manage contract` runs, and more events
come. Every event is applied once, none is dead-lettered, and the read model, the KPIs and the
flow metrics equal a recount of the events (the property tests' recounts).
"""

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import aio_pika
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from conftest import fresh_database, service_settings
from services.kpi.config import KpiSettings
from services.kpi.consumer import QUEUE
from services.kpi.flow_schemas import FlowWindow
from services.kpi.main import create_app
from services.kpi.tests.factories import create_user
from services.kpi.tests.test_flow_property import assert_metrics
from services.kpi.tests.test_property import (
    NAMES,
    assert_read_model_matches,
    delivery,
    random_history,
)
from shared.contracts.events import TaskEvent, TaskStatus
from tests.broker import eventually
from tests.events import event_body
from tests.tokens import TestSigner

ROOT = Path(__file__).parents[3]
FIRST_EXPAND = "services/kpi/migrations/versions/0005_task_flow_completion.py"
DEADLINE = 90.0
WINDOW = FlowWindow(first=date(2025, 1, 1), last=date(2025, 5, 31))


def previous_release(into: Path) -> Path:
    """The code of the commit before the one that added 0005, extracted into `into`."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", FIRST_EXPAND],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    archive = subprocess.run(
        ["git", "archive", f"{added}^"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    into.mkdir()
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def fresh_vhost(name: str) -> None:
    for args in (
        ["delete_vhost", name],
        ["add_vhost", name],
        ["set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
    ):
        result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True)
        assert result.returncode == 0 or args[0] == "delete_vhost", result.stderr


def manage(code: Path, env: dict[str, str], *args: str) -> None:
    """`python -m services.kpi.manage ARGS` of the code in `code`."""
    result = subprocess.run(
        [sys.executable, "-m", "services.kpi.manage", *args],
        cwd=code,
        env={**env, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@contextmanager
def consumer_process(code: Path, env: dict[str, str], log: Path) -> Iterator[Callable[[], None]]:
    """`python -m services.kpi.consumer` of the code in `code`; the block gets its `stop`."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.kpi.consumer"],
            cwd=code,
            env={**env, "PYTHONPATH": str(code)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def stop() -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # as Kubernetes stops a pod
            try:
                process.wait(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()

    try:
        yield stop
    finally:
        stop()


def both_releases_agree(history: list[TaskEvent]) -> bool:
    """Whether both releases credit the task's completion to the same assignee: the release
    before took the current assignee, this one the assignee at completion
    (docs/flow-metrics.md); they differ only when a done task is reassigned while done."""
    return not any(
        before.task.status is TaskStatus.DONE
        and after.task.status is TaskStatus.DONE
        and before.task.assignee_id != after.task.assignee_id
        for before, after in zip(history, history[1:], strict=False)
    )


def applied(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT count(*) FROM kpi.processed_event")) or 0)


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        found = connection.scalar(text("SELECT version_num FROM kpi.alembic_version"))
        return None if found is None else str(found)


class Publisher:
    """Publishes task events on the vhost's `tasks.events`, as the tasks relay does."""

    def __init__(self, amqp_url: str, engine: Engine) -> None:
        self.amqp_url, self.engine = amqp_url, engine
        self.sent: set[object] = set()

    async def __aenter__(self) -> "Publisher":
        self.connection = await aio_pika.connect(self.amqp_url)
        channel = await self.connection.channel(publisher_confirms=True)
        # The exchange as the release before declared it (its catch-all queue was classic, and
        # this release's prestart rebuilds that as a quorum queue): publish to it as it is.
        self.exchange = await channel.get_exchange("tasks.events", ensure=True)
        self.channel = channel
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.connection.close()

    async def publish(self, events: Sequence[TaskEvent], *, pause: float = 0.0) -> None:
        for event in events:
            message = aio_pika.Message(
                body=event_body(event),
                message_id=str(event.event_id),
                type=event.event_type.value,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await self.exchange.publish(message, routing_key=event.event_type.value)
            self.sent.add(event.event_id)
            if pause:
                await asyncio.sleep(pause)

    async def all_applied(self) -> None:
        """Wait until every event sent is applied, and no copy of one waits in the queue."""
        await eventually(
            lambda: applied(self.engine) == len(self.sent),
            within=DEADLINE,
            explain=lambda: f"{applied(self.engine)} of {len(self.sent)} applied",
        )
        for _ in range(int(DEADLINE * 10)):
            if not await self.waiting(QUEUE):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"copies still wait in {QUEUE}")

    async def waiting(self, queue: str) -> int:
        declared = await self.channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0


def test_a_rolling_upgrade_from_the_release_before_0005_loses_nothing(
    database_url: str, tmp_path: Path
) -> None:
    name = database_url.rsplit("/", 1)[1].removesuffix("_test") + "_kpi_upgrade_test"
    url = fresh_database(database_url, name)
    fresh_vhost(name)
    amqp_url = f"amqp://guest:guest@127.0.0.1:5672/{name}"
    engine = create_engine(url)
    old_code = previous_release(tmp_path / "previous")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AMQP_URL": amqp_url,
        "METRICS_PORT": "0",
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "test",
    }
    manage(old_code, env, "prestart")  # the release before, deployed: kpi at 0004, its queues
    assert revision(engine) == "0004"
    rng = random.Random(27)
    generated = [random_history(rng, task_id) for task_id in range(1, 141)]
    histories = [history for history in generated if both_releases_agree(history)]
    order = delivery(rng, [event for history in histories for event in history])
    quarter = len(order) // 4
    before, during, beside, after = (
        order[:quarter],
        order[quarter : 2 * quarter],
        order[2 * quarter : 3 * quarter],
        order[3 * quarter :],
    )
    log = tmp_path / "consumers.log"

    async def scenario() -> None:
        async with Publisher(amqp_url, engine) as publisher:
            with consumer_process(old_code, env, log) as stop_old:
                await publisher.publish(before)
                await publisher.all_applied()
                # This release's prestart migrates while the release before applies events.
                migrating = asyncio.to_thread(manage, ROOT, env, "prestart")
                await asyncio.gather(migrating, publisher.publish(during, pause=0.005))
                assert revision(engine) == "0007"  # expand only: 0008 waits for `contract`
                await publisher.all_applied()
                # This release's consumer starts beside the old one; then the old one stops.
                with consumer_process(ROOT, env, log):
                    await publisher.publish(beside[: len(beside) // 2], pause=0.005)
                    stop_old()
                    await publisher.publish(beside[len(beside) // 2 :])
                    await publisher.all_applied()
                    await asyncio.to_thread(manage, ROOT, env, "contract")
                    assert revision(engine) == "0008"
                    await publisher.publish(after)
                    await publisher.all_applied()
            assert await publisher.waiting(f"{QUEUE}.dead") == 0, log.read_text()[-3000:]

    asyncio.run(scenario())

    with Session(engine) as session:
        for user_id, username in NAMES.items():
            create_user(session, user_id=user_id, username=username)
        session.commit()
        signer = TestSigner()
        app = create_app(service_settings(KpiSettings, url), token_verifier=signer.verifier())
        with TestClient(app) as client:

            def fetch(path: str, **params: Any) -> Any:
                response = client.get(path, params=params, headers=signer.headers(1))
                assert response.status_code == 200, response.text
                return response.json()

            assert_read_model_matches(session, fetch, histories)
        assert_metrics(session, histories, WINDOW)
    engine.dispose()
