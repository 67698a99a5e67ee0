"""Webhook delivery in `make bench`: how soon receivers get a write, and what hooks cost writes.

    python -m benchmarks.hooks      # only these lines, on a bench system of their own

A receiver (aiohttp, in this process, on BENCH_PORT_SHIFT + 19095) answers 204 on /h0 .. /h9
and never answers on /hang; `HOOKS_ALLOWED_TARGETS=127.0.0.1/32` admits it.
1. POST /api/tasks/ with wrk (32 connections, BENCH_SECONDS), first with the hooks processes
   stopped (SIGSTOP), then running with the ten endpoints registered: req/s with hooks is at
   least 0.95x the figure without.
2. Ten healthy endpoints: an open-loop writer POSTs tasks at BENCH_HOOKS_RATE (200/s) for
   BENCH_HOOKS_SECONDS (20 s); each receipt's time from its task's 201 (the writer and the
   receiver share this process's clock): p50 <= 50 ms, p99 <= 200 ms.
3. The same, with an eleventh endpoint that never answers (each attempt waits out the 15 s
   timeout): the healthy endpoints' p99 stays within 1.1x of step 2's.
"""

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import aiohttp
import httpx
from aiohttp import web
from sqlalchemy.engine import Engine

from benchmarks import system, wrk
from benchmarks.event_tools import consumer_pids, paused, percentile
from benchmarks.report import Row, at_least, progress
from benchmarks.scenarios import C32, Bench
from benchmarks.system import Running

RECEIVER_PORT = 19095 + int(os.environ.get("BENCH_PORT_SHIFT", "0"))
HEALTHY = [f"/h{n}" for n in range(10)]
P50_TARGET_MS, P99_TARGET_MS, HANGING_RATIO, POST_SHARE = 50.0, 200.0, 1.1, 0.95
RECEIPT_WAIT_SECONDS = 30.0  # after the last write, for the last receipts
HOOKS_MODULES = ["services.hooks.consumer", "services.hooks.dispatcher"]
HEADER = """python -m benchmarks.hooks: webhook delivery lines of make bench alone
(make run on {name}, :{port}); BENCH_SECONDS {seconds:g}"""


@dataclass
class Timeline:
    """When each task's 201 arrived, and when each receipt did (the event loop's clock)."""

    created: dict[int, float] = field(default_factory=dict)
    received: list[tuple[str, int, float]] = field(default_factory=list)  # path, task, time
    failed_writes: int = 0

    def delays_ms(self, paths: list[str]) -> list[float]:
        """Each receipt on `paths` after its task's 201, in ms (first copies only)."""
        seen: set[tuple[str, int]] = set()
        delays = []
        for path, task_id, at in self.received:
            if path in paths and task_id in self.created and (path, task_id) not in seen:
                seen.add((path, task_id))
                delays.append((at - self.created[task_id]) * 1000)
        return delays


async def _serve(timeline: Timeline) -> web.AppRunner:
    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        task_id = json.loads(body)["data"].get("task_id", 0)
        timeline.received.append((request.path, int(task_id), asyncio.get_running_loop().time()))
        return web.Response(status=204)

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)  # the dispatcher gives up first (its attempt timeout)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hang", hang)
    app.router.add_post("/{name}", receive)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", RECEIVER_PORT).start()
    return runner


async def _write(api: str, token: str, timeline: Timeline, *, rate: float, seconds: float) -> None:
    """Open loop: write i leaves at start + i / rate, whatever the answers so far."""
    loop = asyncio.get_running_loop()
    async with (
        aiohttp.ClientSession(
            api.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {token}"},
            connector=aiohttp.TCPConnector(limit=1000),
        ) as client,
        asyncio.TaskGroup() as group,
    ):
        started = loop.time() + 0.1
        for index in range(round(rate * seconds)):
            await asyncio.sleep(started + index / rate - loop.time())
            group.create_task(_post(client, timeline))


async def _post(client: aiohttp.ClientSession, timeline: Timeline) -> None:
    try:
        async with client.post("tasks/", json={"title": "Webhook bench task"}) as response:
            at = asyncio.get_running_loop().time()
            if response.status != 201:
                timeline.failed_writes += 1
                return
            timeline.created[int((await response.json())["id"])] = at
    except (aiohttp.ClientError, TimeoutError):
        timeline.failed_writes += 1


async def _run_writes(bench: Bench, token: str, paths: list[str]) -> Timeline:
    """One open-loop run with the receiver up; back once every receipt came (or the wait ended)."""
    timeline = Timeline()
    rate = float(os.environ.get("BENCH_HOOKS_RATE", "200"))
    seconds = float(os.environ.get("BENCH_HOOKS_SECONDS", "20"))
    runner = await _serve(timeline)
    try:
        await _write(bench.system, token, timeline, rate=rate, seconds=seconds)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECEIPT_WAIT_SECONDS
        while len(timeline.delays_ms(paths)) < len(timeline.created) * len(paths):
            if loop.time() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await runner.cleanup()
    return timeline


def _admin_token(bench: Bench, engine: Engine) -> str:
    """The first bench user, made an admin (`manage create-admin --promote`), signed in again."""
    from benchmarks.gateway_bench import PASSWORD, USERS  # not at the top: it imports this

    url = engine.url.render_as_string(hide_password=False)
    env = {**system.system_env(url), "ADMIN_PASSWORD": PASSWORD}
    subprocess.run(
        [".venv/bin/python", "-m", "services.auth.manage", "create-admin", "--promote"]
        + ["--username", USERS[0], "--email", f"{USERS[0]}@example.com"],
        env=env,
        check=True,
        capture_output=True,
    )
    login = {"username": USERS[0], "password": PASSWORD}
    answer = httpx.post(f"{bench.system}/auth/login", json=login, timeout=30)
    return str(answer.raise_for_status().json()["access_token"])


def _register(bench: Bench, token: str, path: str) -> int:
    endpoint = {"url": f"http://127.0.0.1:{RECEIVER_PORT}{path}", "description": "bench"}
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(f"{bench.system}/hooks/endpoints", json=endpoint, headers=headers)
    return int(answer.raise_for_status().json()["id"])


@contextmanager
def _hooks_stopped(running: Running) -> Iterator[None]:
    pids = [pid for module in HOOKS_MODULES for pid in consumer_pids(running.system_pid, module)]
    with paused(pids):
        yield


def _delivery_row(scenario: str, timeline: Timeline, reference: float | None) -> Row:
    delays = timeline.delays_ms(HEALTHY)
    missing = len(timeline.created) * len(HEALTHY) - len(delays) + timeline.failed_writes
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    if reference is None:
        target = f"p50<={P50_TARGET_MS:g} p99<={P99_TARGET_MS:g}"
        passed = p50 <= P50_TARGET_MS and p99 <= P99_TARGET_MS and missing == 0
        ratio = None
    else:
        ratio = p99 / reference if reference else float("inf")
        target, passed = f"p99<={HANGING_RATIO:g}x", ratio <= HANGING_RATIO and missing == 0
    return Row(
        scenario=scenario,
        system=f"{len(delays)} receipts",
        reference="-" if reference is None else f"p99 {reference:.1f} ms",
        ratio=ratio,
        p50_ms=p50,
        p99_ms=p99,
        errors=missing,
        target=target,
        passed=passed,
    )


def measure(bench: Bench, engine: Engine, running: Running) -> list[Row]:
    """The three steps of the module docstring, as rows of the table."""
    body = json.dumps({"title": "Webhook bench task"})
    post = bench.on_system("/tasks/", method="POST", body=body)
    token = _admin_token(bench, engine)
    progress("hooks: POST /api/tasks/ with the hooks processes stopped")
    with _hooks_stopped(running):
        without = wrk.summarize([wrk.run(post, connections=C32, seconds=bench.seconds)])
    system.wait_until_idle(engine)
    for path in HEALTHY:
        _register(bench, token, path)
    progress("hooks: ten healthy endpoints, open-loop writes")
    healthy = asyncio.run(_run_writes(bench, bench.token, HEALTHY))
    healthy_row = _delivery_row("hooks: 201 -> receipt, 10 endpoints", healthy, None)
    hanging_id = _register(bench, token, "/hang")
    progress("hooks: the same with an endpoint that never answers")
    hanging = asyncio.run(_run_writes(bench, bench.token, HEALTHY))
    hanging_row = _delivery_row("hooks: same + 1 hanging endpoint", hanging, healthy_row.p99_ms)
    httpx.patch(
        f"{bench.system}/hooks/endpoints/{hanging_id}",
        json={"disabled": True},
        headers={"Authorization": f"Bearer {token}"},
    ).raise_for_status()
    progress("hooks: POST /api/tasks/ with hooks delivering to ten endpoints")
    with_hooks = wrk.summarize([wrk.run(post, connections=C32, seconds=bench.seconds)])
    return [
        healthy_row,
        hanging_row,
        at_least("hooks: POST /tasks/ c32, hooks on vs off", with_hooks, without, POST_SHARE),
    ]


def main() -> None:
    """Only the webhook lines: start the bench system, measure, stop it, print the table."""
    from benchmarks import gateway_bench  # not at the top: it imports this module

    gateway_bench.start_and_measure(
        lambda bench, engine, ids, running: measure(bench, engine, running), header=HEADER
    )


if __name__ == "__main__":
    main()
