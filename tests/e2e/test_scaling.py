"""A scaled deployment loses nothing: two of each event process, one of each killed mid-run.

Beside the system `make run` started (one tasks relay, one logs consumer, one KPI consumer),
a second replica of each runs on the same database and broker, as Kubernetes scaling runs
them. While task writes flow through the gateway, each second replica is SIGKILLed (no ack, no
rollback, no goodbye) and started again. Afterwards every event is in the activity log once,
the KPI counters equal a recount from the tasks, and no request got a 5xx.
"""

import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.e2e.conftest import GATEWAY, System
from tests.e2e.test_system import eventually, new_user

ROOT = Path(__file__).parents[2]
WRITES = 90  # task writes in all; the replicas are killed after a third, back after a half
REPLICAS = ("services.tasks.relay", "services.logs.consumer", "services.kpi.consumer")
LOGGED = text(
    "SELECT (SELECT count(*) FROM tasks.outbox),"
    " (SELECT count(*) FROM logs.activity_log),"
    " (SELECT count(DISTINCT event_id) FROM logs.activity_log)"
)
RECOUNT = text(
    "SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date, coalesce(assignee_id, 0),"
    " status, count(*) FROM tasks.task GROUP BY 1, 2, 3"
)
COUNTERS = text("SELECT month, assignee_key, status, count FROM kpi.month_counter WHERE count <> 0")


class Replica:
    """A second copy of one event process, which can be SIGKILLed and started again."""

    def __init__(self, module: str, env: dict[str, str], log: Path) -> None:
        self.module, self.env, self.log = module, {**env, "METRICS_PORT": "0"}, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "python"), "-m", self.module],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.running(), self.log.read_text()[-2000:]
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def replicas(system: System) -> Iterator[list[Replica]]:
    logs = system.log.parent
    started = [
        Replica(module, dict(system.env), logs / f"replica-{module.split('.')[1]}.log")
        for module in REPLICAS
    ]
    for replica in started:
        replica.start()
    try:
        yield started
    finally:
        for replica in started:
            replica.stop()


@pytest.fixture
def engine(system: System) -> Iterator[Engine]:
    engine = create_engine(system.database_url)
    yield engine
    engine.dispose()


def write_until(stop: threading.Event, headers: dict[str, str], statuses: list[int]) -> None:
    """Create tasks and move them along, as people do, until `stop`."""
    created: list[int] = []
    with httpx.Client(base_url=GATEWAY, headers=headers, timeout=30) as api:
        n = 0
        while not stop.is_set():
            if n % 3 == 0 or not created:
                response = api.post("/tasks/", json={"title": f"scaled {n}"})
                if response.status_code == 201:
                    created.append(response.json()["id"])
            else:
                status = "done" if n % 3 == 1 else "in_progress"
                response = api.patch(f"/tasks/{created[n % len(created)]}", json={"status": status})
            statuses.append(response.status_code)
            n += 1


def settled(engine: Engine) -> dict[str, Any] | None:
    """The logged and counted state once both consumers caught up with the outbox, else None."""
    with engine.connect() as connection:
        events, entries, distinct = connection.execute(LOGGED).one()
        counters = {tuple(row[:3]): row[3] for row in connection.execute(COUNTERS)}
        recount = {tuple(row[:3]): row[3] for row in connection.execute(RECOUNT)}
    if entries < events or counters != recount:
        return None
    return {"events": events, "entries": entries, "distinct": distinct}


def consumers(system: System) -> dict[str, int]:
    """How many consumers each task-events queue of the system's vhost has, as RabbitMQ says."""
    vhost = system.env["AMQP_URL"].rsplit("/", 1)[1]
    listed = subprocess.run(
        [
            "rabbitmqctl",
            "-q",
            "list_queues",
            "-p",
            vhost,
            "name",
            "consumers",
            "--no-table-headers",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    counts = dict(line.split("\t") for line in listed if "\t" in line)
    return {name: int(counts.get(name, 0)) for name in ("logs.task-events", "kpi.task-events")}


def test_two_of_each_event_process_one_killed_mid_run_lose_nothing_and_apply_nothing_twice(
    system: System, engine: Engine, replicas: list[Replica]
) -> None:
    with httpx.Client(base_url=GATEWAY, timeout=10) as api:
        _, headers = new_user(api)
    both = {"logs.task-events": 2, "kpi.task-events": 2}
    eventually(lambda: consumers(system) == both, within=60)
    statuses: list[int] = []
    stop = threading.Event()
    writer = threading.Thread(target=write_until, args=(stop, headers, statuses))
    writer.start()
    try:
        # Mid-run, counted in writes rather than seconds (a loaded machine writes slowly):
        # writes keep coming while each second replica is gone, and after it is back.
        eventually(lambda: len(statuses) >= WRITES // 3, within=120)
        for replica in replicas:
            replica.kill()
        eventually(lambda: len(statuses) >= WRITES // 2, within=120)
        for replica in replicas:
            replica.start()
        eventually(lambda: len(statuses) >= WRITES, within=120)
    finally:
        stop.set()
        writer.join()

    state = eventually(lambda: settled(engine), within=120)

    assert {status for status in statuses} <= {200, 201}, sorted(set(statuses))
    assert state["entries"] == state["distinct"] == state["events"]
    for replica in replicas:
        assert replica.running(), replica.log.read_text()[-2000:]
