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
   BENCH_EVENT_SAMPLE-th task (40th) it polls `GET /api/logs/?task_id=` from the 201 until the
   entry is there (see benchmarks/open_loop.py).
3. Backlog: wrk POSTs tasks on 32 connections for BENCH_BACKLOG_SECONDS (3 x BENCH_SECONDS);
   every second the outbox's unpublished rows and each consumer queue's ready messages are read.
"""

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from benchmarks import open_loop, system, wrk
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
from benchmarks.open_loop import Writes
from benchmarks.report import Row, progress
from benchmarks.scenarios import C32, Bench

DRAIN_TARGET = 1000  # events per second, per consumer
P50_TARGET_MS, P99_TARGET_MS = 20.0, 100.0
RATE_SHARE = 0.95  # of the scheduled write rate, or the latency lines measured another load
BACKLOG_MARGIN = 200  # events: one prefetch window; batching alone moves a queue that much
SAMPLE_SECONDS = 1.0
WAIT_SECONDS = 600  # for a backlog to be published, or drained, before the bench gives up
HEADER = """python -m benchmarks.event_path: the event-path lines of make bench alone
(make run on {name}, :{port}); BENCH_SECONDS {seconds:g} (the backlog run lasts 3 x that)"""
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
            sample_every=max(int(env("BENCH_EVENT_SAMPLE", "40")), 1),
            backlog_seconds=float(env("BENCH_BACKLOG_SECONDS", str(3 * bench_seconds))),
        )


def measure(bench: Bench, engine: Engine, *, creator_id: int, system_pid: int) -> list[Row]:
    """The event path's lines, each part started on an idle system; idle again at the end."""
    settings = Settings.from_env(bench_seconds=bench.seconds)
    rows = []
    for consumer in CONSUMERS:
        system.wait_until_idle(engine)
        drained = drain(
            consumer,
            bench,
            engine,
            pids=consumer_pids(system_pid, consumer.module),
            count=settings.drain_events,
            creator=creator_id,
        )
        rows.append(asyncio.run(drained))
    system.wait_until_idle(engine)
    writes = open_loop.write(
        bench.system,
        bench.token,
        rate=settings.rate,
        seconds=settings.visibility_seconds,
        poll_every=settings.sample_every,
        warm_task_id=bench.task_id,
    )
    rows += visibility_rows(asyncio.run(writes), settings)
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
    consumer: Consumer, bench: Bench, engine: Engine, *, pids: list[int], count: int, creator: int
) -> Row:
    """`count` events queued for the stopped `consumer`, then timed from SIGCONT until applied."""
    async with Broker(system.AMQP_URL) as broker:
        with paused(pids):
            stopped = time.monotonic()
            first, last = await asyncio.to_thread(
                add_backlog, engine, count=count, creator_id=creator
            )

            async def holds_all(by: Consumer) -> bool:
                return await asyncio.to_thread(by.held, engine, first=first, last=last) == count

            async def queued() -> bool:
                """Published, and applied by every other consumer: the rest of the system idle."""
                if await asyncio.to_thread(unpublished, engine):
                    return False
                return all([await holds_all(other) for other in CONSUMERS if other != consumer])

            await until(queued, bench, f"{count} events published and applied by the others")
            ready = await broker.ready(consumer.queue)
            stopped_for = time.monotonic() - stopped
            started = time.perf_counter()

        async def drained() -> bool:
            return await broker.ready(consumer.queue) == 0 and await holds_all(consumer)

        await until(drained, bench, f"{consumer.name}: {count} events drained")
        seconds = time.perf_counter() - started
    rate = count / seconds
    progress(
        f"{consumer.name} stopped {stopped_for:.0f} s while {count} events were queued for it "
        f"({ready} ready, the rest delivered before the stop); drained in {seconds:.2f} s: "
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


def visibility_rows(writes: Writes, settings: Settings) -> list[Row]:
    """The achieved write rate, and the p50 and p99 from a 201 to the entry in the logs API."""
    p50, p99 = percentile(writes.delays_ms, 0.5), percentile(writes.delays_ms, 0.99)
    progress(
        f"open loop at {settings.rate:g}/s for {settings.visibility_seconds:g} s: "
        f"{writes.created} created ({writes.rate:.0f}/s), {writes.failed} failed "
        f"{dict(writes.failures)}; every "
        f"{settings.sample_every}th task polled: {len(writes.delays_ms)} seen, "
        f"{writes.invisible} not within {open_loop.VISIBLE_SECONDS:g} s; sends late p50 "
        f"{percentile(writes.late_ms, 0.5):.1f} ms, p99 {percentile(writes.late_ms, 0.99):.1f} "
        f"ms; the writer used {writes.cpu_seconds / writes.seconds:.0%} of a core"
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
        ),
        header=HEADER,
    )


if __name__ == "__main__":
    main()
