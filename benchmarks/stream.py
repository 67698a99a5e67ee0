"""The live activity stream in `make bench`: many open streams on one logs API process, through
the gateway, while tasks are written.

    python -m benchmarks.stream      # only these lines, on a bench system of their own

1. GET /api/tasks/{id} and POST /api/tasks/ at 32 connections (wrk), with no stream open.
2. BENCH_STREAMS (1,000) streams are opened through the gateway by a reader process of their
   own (so reading them does not slow the writer); the logs API process's RSS is read after the
   first (which makes the process listen) and after the rest, once they idle: the growth
   divided by the streams after the first.
3. An open-loop writer POSTs tasks at BENCH_EVENT_RATE (200/s) for BENCH_STREAM_SECONDS (10 s);
   every stream counts the entries it gets, and BENCH_TIMED_STREAMS (50) of them also note when
   each task's entry arrived: the time from the write's 201 to that arrival, over those
   streams. Every stream must get every entry committed meanwhile, each once: the bench
   waits until they all have (at most 30 s after the last commit) and says how long it took.
4. The GET and POST runs of step 1 again, with the streams open: within 0.95x of step 1.

The writer and the readers share CLOCK_MONOTONIC (`time.monotonic`), so their times compare.
"""

import asyncio
import json
import multiprocessing
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httptools
from sqlalchemy import text
from sqlalchemy.engine import Engine

from benchmarks import system, wrk
from benchmarks.event_tools import percentile
from benchmarks.report import Row, at_least, progress
from benchmarks.scenarios import Bench
from benchmarks.wrk import Summary

STREAMS = int(os.environ.get("BENCH_STREAMS", "1000"))
TIMED_STREAMS = int(os.environ.get("BENCH_TIMED_STREAMS", "50"))
RATE = float(os.environ.get("BENCH_EVENT_RATE", "200"))
SECONDS = float(os.environ.get("BENCH_STREAM_SECONDS", "10"))
P50_TARGET_MS, P99_TARGET_MS = 25.0, 100.0
RSS_TARGET_KIB = 20.0
SHARE_TARGET = 0.95
IDLE_SECONDS = 3.0  # after the streams opened, before the RSS is read
CATCH_UP_SECONDS = 30.0  # after the last entry is committed, for it to reach every stream
MARK = b"event: activity"
TASK_ID = re.compile(rb'"task_id":(\d+)')
HEADER = """python -m benchmarks.stream: the live stream's lines of make bench alone
(make run on {name}, :{port}); BENCH_SECONDS {seconds:g} for each wrk run"""


class _Stream(asyncio.Protocol):
    """One stream, read raw: counts its events; a timed one notes each task's arrival.

    The response is parsed by httptools (uvicorn's parser): the gateway sends it chunked, and a
    chunk's size line may fall inside an event, so the events are counted in the decoded body.
    """

    def __init__(self, timed: bool, opened: asyncio.Future[bool]) -> None:
        self.timed, self.opened = timed, opened
        self.count = 0
        self.arrivals: dict[int, float] = {}
        self.duplicates = 0
        self._tail = b""
        self._parser = httptools.HttpResponseParser(self)
        self._now = 0.0

    def data_received(self, data: bytes) -> None:
        self._now = time.monotonic()
        self._parser.feed_data(data)

    def on_headers_complete(self) -> None:
        if not self.opened.done():
            self.opened.set_result(self._parser.get_status_code() == HTTPStatus.OK)

    def on_body(self, body: bytes) -> None:
        combined = self._tail + body
        if self.timed:
            # Only whole events: the tail kept for the next chunk may hold a mark already.
            events, _, self._tail = combined.rpartition(b"\n\n")
            self.count += events.count(MARK)
            for match in TASK_ID.finditer(events):
                task_id = int(match[1])
                self.duplicates += task_id in self.arrivals
                self.arrivals.setdefault(task_id, self._now)
        else:
            self.count += combined.count(MARK)  # the tail is shorter than a mark: none twice
            self._tail = combined[-(len(MARK) - 1) :]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_result(False)


async def _read_streams(api: str, token: str, pipe: Connection) -> None:
    """Open the streams, say so, wait for the word to stop, send what each stream got."""
    loop = asyncio.get_running_loop()
    url = urlsplit(api)
    request = (
        f"GET {url.path}/logs/stream HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    streams: list[_Stream] = []
    for index in range(STREAMS):
        if index == 1:  # the first stream made the process listen: what is per stream follows
            pipe.send({"warm": 1})
            await loop.run_in_executor(None, pipe.recv)
        opened: asyncio.Future[bool] = loop.create_future()
        transport, stream = await loop.create_connection(
            lambda: _Stream(index < TIMED_STREAMS, opened),  # noqa: B023  (called at once)
            url.hostname or "127.0.0.1",
            url.port or 80,
        )
        transport.write(request)
        streams.append(stream)
        if not await opened:
            pipe.send({"error": f"stream {index} was not opened"})
            return
    pipe.send({"opened": len(streams)})
    # "count" (asked until every stream has every entry), then "report", then the word to stop.
    while await loop.run_in_executor(None, pipe.recv) == "count":
        pipe.send([stream.count for stream in streams])
    pipe.send(
        {
            "counts": [stream.count for stream in streams],
            "arrivals": [stream.arrivals for stream in streams if stream.timed],
            "duplicates": sum(stream.duplicates for stream in streams),
        }
    )
    await loop.run_in_executor(None, pipe.recv)


def _reader(api: str, token: str, pipe: Connection) -> None:
    asyncio.run(_read_streams(api, token, pipe))


@dataclass
class Written:
    created: dict[int, float] = field(default_factory=dict)  # task id -> its 201's time
    failures: Counter[str] = field(default_factory=Counter)  # not a 201: the status, or why


async def _write(api: str, token: str) -> Written:
    """Open loop: write number i leaves at start + i / RATE, whatever the answers."""
    written = Written()
    loop = asyncio.get_running_loop()

    async def one(client: aiohttp.ClientSession) -> None:
        try:
            async with client.post("tasks/", json={"title": "Stream bench task"}) as response:
                created = time.monotonic()
                if response.status != 201:
                    written.failures[str(response.status)] += 1
                    return
                written.created[int((await response.json())["id"])] = created
        except (aiohttp.ClientError, TimeoutError) as exc:
            written.failures[type(exc).__name__] += 1

    async with aiohttp.ClientSession(
        api.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {token}"},
        connector=aiohttp.TCPConnector(limit=1000),
    ) as client:
        started = loop.time() + 0.1
        async with asyncio.TaskGroup() as group:
            for index in range(round(RATE * SECONDS)):
                await asyncio.sleep(started + index / RATE - loop.time())
                group.create_task(one(client))
    return written


def until_streams_hold(pipe: Connection, expected: int) -> float:
    """Seconds until every stream has `expected` entries (or CATCH_UP_SECONDS: the streams
    still behind then count as losing the rest)."""
    started = time.monotonic()
    while time.monotonic() - started < CATCH_UP_SECONDS:
        pipe.send("count")
        if min(pipe.recv(), default=expected) >= expected:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def logs_api_pid() -> int:
    """The logs API process of the bench system (uvicorn on its port)."""
    port = f"--port {system.PORTS['LOGS_PORT']}"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "services.logs.main:create_app" in command and port in command:
            return int(entry.name)
    raise RuntimeError("the logs API process is not running")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def newest_entry(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT coalesce(max(id), 0) FROM logs.activity_log")))


def entries_after(engine: Engine, entry_id: int) -> int:
    with engine.connect() as connection:
        query = text("SELECT count(*) FROM logs.activity_log WHERE id > :id")
        return int(connection.scalar(query, {"id": entry_id}))


def task_loads(bench: Bench) -> dict[str, Callable[[], wrk.Result]]:
    body = json.dumps({"title": "Stream bench load"})
    return {
        "GET /api/tasks/{id}": bench.c32(bench.on_system(f"/tasks/{bench.task_id}")),
        "POST /api/tasks/": bench.c32(bench.on_system("/tasks/", method="POST", body=body)),
    }


def run_loads(bench: Bench, engine: Engine) -> dict[str, Summary]:
    results: dict[str, Summary] = {}
    for name, load in task_loads(bench).items():
        runs = []
        for _ in range(bench.rounds):
            runs.append(load())
            system.wait_until_idle(engine)
        results[name] = wrk.summarize(runs)
    return results


def measure(bench: Bench, engine: Engine) -> list[Row]:
    """Every line of this part of the bench."""
    progress("stream: GET and POST with no stream open")
    without = run_loads(bench, engine)
    pid = logs_api_pid()
    parent, child = multiprocessing.Pipe()
    reader = multiprocessing.get_context("spawn").Process(
        target=_reader, args=(bench.system, bench.token, child)
    )
    reader.start()
    try:
        if "error" in (warm := parent.recv()):
            raise RuntimeError(warm["error"])
        time.sleep(IDLE_SECONDS)
        rss_before = rss_kib(pid)
        parent.send("go on")
        opened = parent.recv()
        if "error" in opened:
            raise RuntimeError(opened["error"])
        time.sleep(IDLE_SECONDS)
        rss_after = rss_kib(pid)
        system.wait_until_idle(engine)
        first = newest_entry(engine)
        progress(f"stream: {opened['opened']} streams open; writes at {RATE:g}/s for {SECONDS:g} s")
        written = asyncio.run(_write(bench.system, bench.token))
        system.wait_until_idle(engine)
        expected = entries_after(engine, first)
        caught_up = until_streams_hold(parent, expected)
        progress(f"stream: every stream held every entry {caught_up:.1f} s after the last commit")
        parent.send("report")
        got: dict[str, Any] = parent.recv()
        progress("stream: GET and POST with the streams open")
        with_streams = run_loads(bench, engine)
        parent.send("stop")
    finally:
        reader.join(timeout=60)
        if reader.is_alive():
            reader.kill()
    return rows(without, with_streams, written, got, expected, rss_after - rss_before)


def rows(
    without: dict[str, Summary],
    with_streams: dict[str, Summary],
    written: Written,
    got: dict[str, Any],
    expected: int,
    rss_growth_kib: int,
) -> list[Row]:
    if written.failures:
        progress(f"stream: writes without a 201: {dict(written.failures)}")
    delays = [
        (arrivals[task_id] - created) * 1000
        for arrivals in got["arrivals"]
        for task_id, created in written.created.items()
        if task_id in arrivals
    ]
    counts: list[int] = got["counts"]
    lost = sum(max(0, expected - count) for count in counts)
    duplicated = sum(max(0, count - expected) for count in counts) + got["duplicates"]
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    per_stream = rss_growth_kib / max(len(counts) - 1, 1)
    result = [
        Row(
            scenario=f"stream: 201 to entry on stream, {len(counts)} streams",
            system=f"{RATE:g} writes/s",
            p50_ms=p50,
            p99_ms=p99,
            errors=written.failures.total(),
            target=f"<={P50_TARGET_MS:g}/{P99_TARGET_MS:g}",
            passed=p50 <= P50_TARGET_MS and p99 <= P99_TARGET_MS,
        ),
        Row(
            scenario=f"stream: entries lost / duplicated ({expected} x {len(counts)})",
            system=f"{lost} / {duplicated}",
            target="0 / 0",
            passed=lost == 0 and duplicated == 0,
        ),
        Row(
            scenario="stream: logs API RSS per idle stream",
            system=f"{per_stream:.1f} KiB",
            target=f"<={RSS_TARGET_KIB:g} KiB",
            passed=per_stream <= RSS_TARGET_KIB,
        ),
    ]
    for name, alone in without.items():
        scenario = f"stream: {name} with the streams open"
        result.append(at_least(scenario, with_streams[name], alone, SHARE_TARGET))
    return result


def main() -> None:
    """Only the stream lines: start the bench system, measure, stop it, print the table."""
    from benchmarks import gateway_bench  # not at the top: it imports the event path's module

    gateway_bench.start_and_measure(
        lambda bench, engine, ids, running: measure(bench, engine), header=HEADER
    )


if __name__ == "__main__":
    main()
