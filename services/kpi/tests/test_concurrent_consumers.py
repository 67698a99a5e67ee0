"""Two KPI consumer replicas applying overlapping batches at once, on committed data (real
PostgreSQL, real row locks): neither deadlocks, and the read model counts every task once."""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.kpi import repository
from services.kpi.consumer import handle, handle_batch
from services.kpi.models import processed_event
from services.kpi.tests.factories import create_event, create_next_event, month_counters
from shared.contracts.events import TaskEvent, TaskStatus
from shared.core.db import Database
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig
from tests.broker import AMQP_URL

MARCH = date(2025, 3, 1)
CREATED_AT = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
WAITING = text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid")


@pytest.fixture
def replicas(database_url: str, committed: Session) -> Iterator[list[EventConsumer[TaskEvent]]]:
    """Two KPI consumers, each with its own connection, as two replicas run."""
    config = ConsumerConfig(
        amqp_url=AMQP_URL, exchange="unused", queue="unused", binding_key="task.#"
    )
    databases = [Database(database_url, pool_size=1) for _ in range(2)]
    yield [
        EventConsumer(
            config,
            model=TaskEvent,
            database=database,
            processed=processed_event,
            handler=handle,
            batch_handler=handle_batch,
        )
        for database in databases
    ]
    for database in databases:
        database.dispose()


def wait_for_lock(engine: Engine, pid: int) -> None:
    """Return once the backend `pid` waits on a lock (fails after a generous deadline)."""
    deadline = time.monotonic() + 30
    with engine.connect() as watcher:
        while not watcher.execute(WAITING, {"pid": pid}).scalar():
            assert time.monotonic() < deadline, f"backend {pid} never waited on a lock"
            time.sleep(0.01)


def test_overlapping_batches_of_new_tasks_apply_without_a_deadlock(
    engine: Engine, committed: Session, replicas: list[EventConsumer[TaskEvent]]
) -> None:
    created = {
        task_id: create_event(task_id=task_id, created_at=CREATED_AT) for task_id in (1, 2, 3)
    }
    started = {
        task_id: create_next_event(after=event, status=TaskStatus.IN_PROGRESS)
        for task_id, event in created.items()
    }
    # The two replicas get the same new tasks in opposite orders; a third transaction holds the
    # placeholder of task 3 uncommitted, so each replica stops there, holding what it inserted
    # before it, until that transaction commits.
    batches = [[created[2], created[3], created[1]], [started[1], started[3], started[2]]]
    errors: list[BaseException] = []
    pids: list[int] = []

    def replica(consumer: EventConsumer[TaskEvent], batch: list[TaskEvent]) -> None:
        try:
            consumer.process_batch(batch)
        except BaseException as error:  # reported by the test's thread below
            errors.append(error)

    with Session(engine) as blocker:
        repository.ensure_task_states(blocker, tasks=[created[3].task])
        threads = []
        for consumer, batch in zip(replicas, batches, strict=True):
            with consumer.database.sessionmaker() as session:  # its pool's one connection
                pids.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            threads.append(threading.Thread(target=replica, args=(consumer, batch)))
            threads[-1].start()
            wait_for_lock(engine, pids[-1])
        blocker.commit()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert month_counters(committed) == {(MARCH, 0, "in_progress"): 3}
