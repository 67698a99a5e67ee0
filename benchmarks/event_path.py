"""The event path in `make bench`: a backlog's drain, a write's way into the activity log, and
the consumers' backlog at the highest write rate.

    python -m benchmarks.event_path      # only these lines, on a bench system of their own

1. Drain, per consumer (logs, then kpi): its processes are stopped (SIGSTOP); BENCH_DRAIN_EVENTS
   (10,000) tasks and their `task.created` events are written into `tasks.task` and
   `tasks.outbox` in one transaction; the real relay publishes them and the other consumer
   applies its copy; then the consumer is continued (SIGCONT) and timed until its queue is
   empty and its read model holds every one of those tasks.
2. Visibility: an open-loop writer (a fixed schedule, whatever the answers) POSTs tasks through
   the gateway at BENCH_EVENT_RATE (200/s) for BENCH_EVENT_SECONDS (30 s); for every
   BENCH_EVENT_SAMPLE-th task (5th) it polls `GET /api/logs/?task_id=` every 2 ms from the 201
   until the entry is there.
3. Backlog: wrk POSTs tasks on 32 connections for BENCH_BACKLOG_SECONDS (3 x BENCH_SECONDS);
   every second the outbox's unpublished rows and each consumer queue's ready messages are read.
"""

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy.engine import Engine

from benchmarks import system, wrk
from benchmarks.event_tools import (
    CONSUMERS,
    Broker,
    Consumer,
    add_backlog,
    backlog_verdict,
    consumer_pids,
    paused,
    percentile,
    unpublished,
)
from benchmarks.report import Row, progress
from benchmarks.scenarios import C32, Bench

DRAIN_TARGET = 1000  # events per second, per consumer
P50_TARGET_MS, P99_TARGET_MS = 20.0, 100.0
RATE_SHARE = 0.95  # of the scheduled write rate, or the latency lines measured another load
BACKLOG_MARGIN = 200  # events: one prefetch window; batching alone moves a queue that much
POLL_SECONDS, VISIBLE_SECONDS = 0.002, 10.0
CONNECTIONS = 200  # of the open-loop writer: a write never waits for a free one
SAMPLE_SECONDS = 1.0
WAIT_SECONDS = 600  # for a backlog to be published, or drained, before the bench gives up
HEARTBEAT_SECONDS = 60  # RabbitMQ drops a consumer's connection stopped about this long


@dataclass(frozen=True)
class Settings:
    """How much each part does (BENCH_* environment variables; smaller for a quick look)."""

    drain_events: int
    rate: float
    visibility_seconds: float
    sample_every: int
    backlog_seconds: float

    @classmethod
    def from_env(cls, *, bench_seconds: float) -> "Settings":
        """The settings from the environment; the backlog run lasts 3 x BENCH_SECONDS."""
        env = os.environ.get
        return cls(
            drain_events=int(env("BENCH_DRAIN_EVENTS", "10000")),
            rate=float(env("BENCH_EVENT_RATE", "200")),
            visibility_seconds=float(env("BENCH_EVENT_SECONDS", "30")),
            sample_every=max(int(env("BENCH_EVENT_SAMPLE", "5")), 1),
            backlog_seconds=float(env("BENCH_BACKLOG_SECONDS", str(3 * bench_seconds))),
        )


def measure(bench: Bench, engine: Engine, *, creator_id: int, system_pid: int) -> list[Row]:
    """The event path's lines, each part started on an idle system; idle again at the end."""
    settings = Settings.from_env(bench_seconds=bench.seconds)
    rows = []
    for consumer in CONSUMERS:
        system.wait_until_idle(engine)
        pids = consumer_pids(system_pid, consumer.module)
        count, creator = settings.drain_events, creator_id
        rows.append(asyncio.run(drain(consumer, pids, bench, engine, count=count, creator=creator)))
    system.wait_until_idle(engine)
    rows += visibility_rows(asyncio.run(visibility(bench, settings)), settings)
    system.wait_until_idle(engine)
    rows += backlog_rows(bench, engine, seconds=settings.backlog_seconds)
    system.wait_until_idle(engine, seconds=WAIT_SECONDS)
    return rows


async def until(condition: Callable[[], Awaitable[bool]], bench: Bench, what: str) -> None:
    """Poll `condition` every 50 ms until it holds; fail after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not await condition():
        bench.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {WAIT_SECONDS} s")
        await asyncio.sleep(0.05)


async def drain(
    consumer: Consumer, pids: list[int], bench: Bench, engine: Engine, *, count: int, creator: int
) -> Row:
    """`count` events queued for the stopped `consumer`, then timed from SIGCONT until applied."""
    others = [other for other in CONSUMERS if other is not consumer]

    async def held(by: Consumer) -> int:
        return await asyncio.to_thread(by.held, engine, first=first, last=last)

    async def elsewhere() -> bool:
        if await asyncio.to_thread(unpublished, engine):
            return False
        return all([await held(other) == count for other in others])

    async with Broker(system.AMQP_URL) as broker:

        async def drained() -> bool:
            return await broker.ready(consumer.queue) == 0 and await held(consumer) == count

        with paused(pids):
            stopped = time.monotonic()
            first, last = await asyncio.to_thread(
                add_backlog, engine, count=count, creator_id=creator
            )
            await until(elsewhere, bench, f"{count} events published and applied by the others")
            queued = await broker.ready(consumer.queue)
            stopped_for = time.monotonic() - stopped
            started = time.perf_counter()
        await until(drained, bench, f"{consumer.name}: {count} events drained")
        seconds = time.perf_counter() - started
    rate = count / seconds
    progress(
        f"{consumer.name} stopped {stopped_for:.0f} s while {count} events were queued for it "
        f"({queued} ready, the rest delivered before the stop); drained in {seconds:.2f} s: "
        f"{rate:.0f} events/s"
    )
    if stopped_for > HEARTBEAT_SECONDS * 0.8:
        progress(f"{consumer.name} was stopped for near RabbitMQ's heartbeat: it may reconnect")
    return Row(
        scenario=f"{count:,}-event backlog drain: {consumer.name} consumer",
        system=f"{rate:.0f} ev/s",
        reference=f"{seconds:.2f} s",
        target=f">= {DRAIN_TARGET}/s",
        passed=rate >= DRAIN_TARGET,
    )


@dataclass
class Writes:
    """What the open-loop writer saw (times from the event loop's clock, in seconds)."""

    delays_ms: list[float] = field(default_factory=list)  # 201 -> the entry found, polled tasks
    late_ms: list[float] = field(default_factory=list)  # how late each write left its schedule
    created: int = 0
    failed: int = 0  # not a 201, or no answer
    invisible: int = 0  # polled tasks whose entry did not show within VISIBLE_SECONDS
    started: float = 0.0
    last_created: float = 0.0
    cpu_seconds: float = 0.0  # the writer's own CPU time: near 1 per second, it fell behind

    @property
    def rate(self) -> float:
        """Achieved writes per second: 201s over the time from the first send to the last 201."""
        seconds = self.last_created - self.started
        return self.created / seconds if seconds > 0 else 0.0


async def visibility(bench: Bench, settings: Settings) -> Writes:
    """Write at `settings.rate` on a fixed schedule; poll the logs API for every k-th task."""
    writes = Writes()
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    headers = {"Authorization": f"Bearer {bench.token}"}
    cpu = time.process_time()
    async with httpx.AsyncClient(
        base_url=bench.system, headers=headers, limits=limits, timeout=VISIBLE_SECONDS
    ) as client:
        (await client.get("/logs/", params={"task_id": bench.task_id})).raise_for_status()
        writes.started = loop.time() + 0.1
        async with asyncio.TaskGroup() as group:
            for index in range(round(settings.rate * settings.visibility_seconds)):
                scheduled = writes.started + index / settings.rate
                await asyncio.sleep(scheduled - loop.time())
                polled = index % settings.sample_every == 0
                group.create_task(_write(client, writes, scheduled=scheduled, polled=polled))
    writes.cpu_seconds = time.process_time() - cpu
    return writes


async def _write(
    client: httpx.AsyncClient, writes: Writes, *, scheduled: float, polled: bool
) -> None:
    loop = asyncio.get_running_loop()
    writes.late_ms.append((loop.time() - scheduled) * 1000)
    try:
        response = await client.post("/tasks/", json={"title": "Event path task"})
    except httpx.HTTPError:
        writes.failed += 1
        return
    created = loop.time()
    if response.status_code != 201:
        writes.failed += 1
        return
    writes.created += 1
    writes.last_created = max(writes.last_created, created)
    if not polled:
        return
    task = {"task_id": response.json()["id"]}
    while loop.time() - created < VISIBLE_SECONDS:
        try:
            found = await client.get("/logs/", params=task)
            if found.status_code == 200 and found.json()["items"]:
                # Up to the answer that showed it: a poll's round trip later than the commit.
                writes.delays_ms.append((loop.time() - created) * 1000)
                return
        except httpx.HTTPError:
            pass  # polled again below, until VISIBLE_SECONDS
        await asyncio.sleep(POLL_SECONDS)
    writes.invisible += 1


def visibility_rows(writes: Writes, settings: Settings) -> list[Row]:
    """The achieved write rate, and the p50 and p99 from a 201 to the entry in the logs API."""
    p50, p99 = percentile(writes.delays_ms, 0.5), percentile(writes.delays_ms, 0.99)
    progress(
        f"open loop at {settings.rate:g}/s for {settings.visibility_seconds:g} s: "
        f"{writes.created} created ({writes.rate:.0f}/s), {writes.failed} failed; every "
        f"{settings.sample_every}th task polled: {len(writes.delays_ms)} seen, "
        f"{writes.invisible} not within {VISIBLE_SECONDS:g} s; sends late p50 "
        f"{percentile(writes.late_ms, 0.5):.1f} ms, p99 {percentile(writes.late_ms, 0.99):.1f} "
        f"ms; the writer used {writes.cpu_seconds / settings.visibility_seconds:.0%} of a core"
    )
    name = f"201 -> GET /logs/?task_id= at {settings.rate:g}/s"
    errors = writes.failed + writes.invisible
    achieved = writes.rate / settings.rate
    return [
        Row(
            scenario=f"open-loop POST /tasks/ at {settings.rate:g}/s",
            system=f"{writes.rate:.0f} /s",
            reference=f"{settings.rate:g} /s",
            ratio=achieved,
            errors=writes.failed,
            target=f">= {RATE_SHARE:g}x",
            passed=achieved >= RATE_SHARE and writes.failed == 0,
        ),
        *(
            Row(
                scenario=f"{name}: {label}",
                system=f"{value:.1f} ms",
                reference=f"{len(writes.delays_ms)} tasks",
                p50_ms=p50,
                p99_ms=p99,
                errors=errors,
                target=f"<= {target:g} ms",
                passed=value <= target and errors == 0,
            )
            for label, value, target in (("p50", p50, P50_TARGET_MS), ("p99", p99, P99_TARGET_MS))
        ),
    ]


@dataclass
class Depths:
    """Backlog samples, one a second: the outbox's unpublished rows, and per consumer those
    plus its queue's ready messages (the events written that it has not taken yet)."""

    outbox: list[int] = field(default_factory=list)
    consumers: dict[str, list[int]] = field(default_factory=dict)


async def sample_backlog(engine: Engine, run: wrk.Run) -> Depths:
    """Sample the backlog every SAMPLE_SECONDS while `run` lasts."""
    depths = Depths(consumers={consumer.name: [] for consumer in CONSUMERS})
    loop = asyncio.get_running_loop()
    async with Broker(system.AMQP_URL) as broker:
        at = loop.time()
        while run.process.poll() is None:
            outbox = await asyncio.to_thread(unpublished, engine)
            depths.outbox.append(outbox)
            for consumer in CONSUMERS:
                depths.consumers[consumer.name].append(outbox + await broker.ready(consumer.queue))
            at += SAMPLE_SECONDS
            await asyncio.sleep(at - loop.time())
    return depths


def backlog_rows(bench: Bench, engine: Engine, *, seconds: float) -> list[Row]:
    """POST at 32 connections; per consumer: is the backlog of the last third bounded?"""
    body = json.dumps({"title": "Bench task"})
    load = bench.on_system("/tasks/", method="POST", body=body)
    run = wrk.start(load, connections=C32, seconds=seconds)
    try:
        depths = asyncio.run(sample_backlog(engine, run))
    finally:
        if run.process.poll() is None:
            run.process.kill()
    result = run.result()
    name = f"POST /tasks/ c{C32} {seconds:g}s"
    progress(
        f"{name}: {result.rps:.0f} req/s, errors {result.errors}; outbox unpublished peak "
        f"{max(depths.outbox, default=0)}; {len(depths.outbox)} samples"
    )
    rows = [
        Row(
            scenario=f"{name} (backlog run)",
            system=f"{result.rps:.0f} req/s",
            p50_ms=result.p50_ms,
            p99_ms=result.p99_ms,
            errors=result.errors,
        )
    ]
    for consumer, samples in depths.consumers.items():
        verdict = backlog_verdict(samples, interval=SAMPLE_SECONDS, margin=BACKLOG_MARGIN)
        progress(
            f"{consumer} backlog (outbox + queue): peak {verdict.peak}, max of the middle third "
            f"{verdict.middle_max}, of the last third {verdict.last_max}; last third's trend "
            f"{verdict.trend:+.1f} events/s"
        )
        rows.append(
            Row(
                scenario=f"{consumer} backlog at c{C32}: last third vs middle",
                system=f"{verdict.last_max} events",
                reference=f"{verdict.middle_max} events",
                target=f"<= +{BACKLOG_MARGIN}",
                passed=verdict.bounded,
            )
        )
    return rows


def main() -> None:
    """Only the event path: start the bench system, measure, stop it, print the table."""
    from benchmarks import gateway_bench  # not at the top: it imports this module

    gateway_bench.start_and_measure(
        lambda bench, engine, ids, running: measure(
            bench, engine, creator_id=ids[0], system_pid=running.system_pid
        )
    )


if __name__ == "__main__":
    main()
