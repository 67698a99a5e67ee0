"""What the event-path bench needs from the running system, and how it judges what it saw.

- `Consumer`: a consumer process of `make run`, its queue and its read model.
- `paused`: SIGSTOP a consumer's processes (found in the bench system's process tree by their
  command line) and SIGCONT them again, whatever happens.
- `Broker`: a queue's ready messages, by a passive declare (one AMQP round trip; `rabbitmqctl`
  costs about a second of CPU a call).
- `add_backlog`: tasks and their `task.created` events, written as the tasks service writes
  them (the task row and its outbox row in one transaction), but thousands in one statement;
  the real relay publishes them.
- `percentile`, `backlog_verdict`: the numbers of the table, from the samples.
"""

import math
import os
import signal
import statistics
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.kpi.consumer import QUEUE as KPI_QUEUE
from services.logs.consumer import QUEUE as LOGS_QUEUE
from services.tasks.models import OUTBOX, Task
from services.tasks.repository import add_outbox_event
from shared.contracts.events import TaskEvent, TaskEventType, TaskSnapshot


@dataclass(frozen=True)
class Consumer:
    """A consumer process of `make run`: its module (as the Procfile runs it), queue, read model."""

    name: str
    module: str
    queue: str
    holds: str  # SQL: how many of the tasks :first..:last its read model holds

    def held(self, engine: Engine, *, first: int, last: int) -> int:
        """How many of the tasks `first`..`last` its read model holds."""
        with engine.connect() as connection:
            return int(connection.scalar(text(self.holds), {"first": first, "last": last}) or 0)


CONSUMERS = [
    Consumer(
        name="logs",
        module="services.logs.consumer",
        queue=LOGS_QUEUE,
        holds="SELECT count(*) FROM logs.activity_log WHERE task_id BETWEEN :first AND :last",
    ),
    Consumer(
        name="kpi",
        module="services.kpi.consumer",
        queue=KPI_QUEUE,
        holds="SELECT count(*) FROM kpi.task_state WHERE task_id BETWEEN :first AND :last",
    ),
]


def consumer_pids(root: int, module: str) -> list[int]:
    """The processes under `root` running `python -m <module>`."""
    pids = []
    for pid in _descendants(root):
        with suppress(OSError):  # gone meanwhile
            if module.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                pids.append(pid)
    if not pids:
        raise RuntimeError(f"no process runs {module} under process {root}")
    return pids


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            # The fields after the command name (which may hold spaces): state, ppid, ...
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@contextmanager
def paused(pids: Sequence[int]) -> Iterator[None]:
    """The processes stopped (SIGSTOP) inside the block, continued (SIGCONT) on the way out."""
    stopped: list[int] = []
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        yield
    finally:
        for pid in stopped:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


class Broker:
    """One connection to the bench's vhost, to read queue depths."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None

    async def __aenter__(self) -> "Broker":
        self._connection = await aio_pika.connect(self.url)
        self._channel = await self._connection.channel()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def ready(self, queue: str) -> int:
        """Messages waiting in `queue` (not counting those delivered and not yet acked)."""
        assert self._channel is not None
        declared = await self._channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


def unpublished(engine: Engine) -> int:
    """Rows of the tasks outbox the relay has not published yet."""
    table = OUTBOX.table
    query = select(func.count()).select_from(table).where(table.c.published_at.is_(None))
    with engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def add_backlog(engine: Engine, *, count: int, creator_id: int) -> tuple[int, int]:
    """`count` new tasks and their `task.created` events in one transaction; first and last id."""
    now = datetime.now(UTC)
    rows = [
        {
            "title": f"Backlog task {n}",
            "status": "todo",
            "creator_id": creator_id,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for n in range(1, count + 1)
    ]
    with Session(engine) as session:
        tasks = session.scalars(insert(Task).returning(Task), rows).all()
        for task in tasks:
            event = TaskEvent(
                event_id=uuid.uuid4(),
                event_type=TaskEventType.CREATED,
                occurred_at=now,
                actor_id=creator_id,
                task_id=task.id,
                version=task.version,
                task=TaskSnapshot.model_validate(task, from_attributes=True),
            )
            add_outbox_event(session, event=event)
        session.commit()
        ids = [task.id for task in tasks]
    return min(ids), max(ids)


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (`share` in 0..1): a value that was measured; nan if none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


@dataclass(frozen=True)
class Backlog:
    """A backlog sampled at a fixed interval through a load, judged by its thirds."""

    peak: int
    middle_max: int
    last_max: int
    trend: float  # the last third's least-squares slope, events per second
    bounded: bool


def backlog_verdict(samples: Sequence[int], *, interval: float, margin: int) -> Backlog:
    """Bounded: the last third's maximum exceeds the middle third's by at most `margin`."""
    third = len(samples) // 3
    if third == 0:
        return Backlog(max(samples, default=0), 0, 0, math.nan, bounded=False)
    middle, last = samples[third : 2 * third], samples[2 * third :]
    trend = 0.0
    if len(last) > 1:
        times = [index * interval for index in range(len(last))]
        trend = statistics.linear_regression(times, last).slope
    return Backlog(
        peak=max(samples),
        middle_max=max(middle),
        last_max=max(last),
        trend=trend,
        bounded=max(last) <= max(middle) + margin,
    )
