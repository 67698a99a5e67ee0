"""The interleaved measurements of `make bench`: system vs baseline, metrics on vs off, lists,
KPIs.

Every comparison runs its loads in rounds (A, B, A, B, ...), so a noisy neighbour slows both
sides alike, and keeps the median of each.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import httpx

from benchmarks import wrk
from benchmarks.cpu import BASELINE_APP, KPI_APP, TASKS_APP, CpuMeter, cpu_row
from benchmarks.data import MONTH, SMALL_MONTH
from benchmarks.report import Row, at_least, progress
from benchmarks.wrk import Load, Result, Summary

C32 = 32
LIST_QUERY = f"year={MONTH.year}&month={MONTH.month}"
DEEP_PAGES = 100
SETTLE_SECONDS, QUICK_SECONDS = 60, 0.05


def kpi_paths(month: date) -> dict[str, str]:
    """Each KPI of `month` (`trend`: the 12 months of its year)."""
    query = f"year={month.year}&month={month.month}"
    return {
        "completion-rate": f"/kpi/completion-rate?{query}",
        "monthly": f"/kpi/monthly?{query}",
        "by-user": f"/kpi/by-user?{query}",
        "trend": f"/kpi/trend?from={month.year}-01&to={month.year}-12",
    }


KPI_PATHS, SMALL_KPI_PATHS = kpi_paths(MONTH), kpi_paths(SMALL_MONTH)


@dataclass(frozen=True)
class Bench:
    """Where the gateways are, who is signed in, and how long and often each load runs."""

    system: str
    baseline: str
    metrics_off: str  # the same gateway in front of a tasks API of the system's, METRICS_PORT=0
    metrics_on: str  # ... and in front of a twin of that API started alike, metrics on
    token: str
    task_id: int
    baseline_task_id: int
    seconds: float
    rounds: int
    check: Callable[[], None]  # raises when the system or the baseline has stopped
    pids: Callable[[str], list[int]]  # the uvicorn processes serving an app (`benchmarks.cpu`)

    def on_system(self, path: str, **request: str) -> Load:
        """A load through the system's gateway, with the bearer token."""
        return Load(url=self.system + path, token=self.token, **request)

    def on_baseline(self, path: str, **request: str) -> Load:
        """The same load through the baseline's gateway (the token is sent and ignored)."""
        return Load(url=self.baseline + path, token=self.token, **request)

    def on_api(self, api: str, path: str) -> Load:
        """The same load through another gateway, `api` (the metrics-on or -off tasks API's)."""
        return Load(url=api + path, token=self.token)

    def cpu(self, app: str) -> CpuMeter:
        """A meter of the CPU per request of the processes serving `app`."""
        return CpuMeter(self.pids(app))

    def c32(self, load: Load) -> Callable[[], Result]:
        """A run of `load` at 32 connections, two threads."""
        return lambda: wrk.run(load, connections=C32, seconds=self.seconds)

    def settle(self, seconds: float = SETTLE_SECONDS) -> float:
        """Wait until a GET by id is quick again (the backlog of the last run is done); seconds."""
        headers = {"Authorization": f"Bearer {self.token}"}
        begun = time.monotonic()
        with httpx.Client(headers=headers, timeout=seconds) as client:
            while time.monotonic() - begun < seconds:
                self.check()
                time.sleep(0.5)
                started = time.perf_counter()
                try:
                    client.get(f"{self.system}/tasks/{self.task_id}")
                except httpx.HTTPError:
                    continue
                if time.perf_counter() - started < QUICK_SECONDS:
                    break
        return time.monotonic() - begun

    def warm_up(self, paths: list[str], *, api: str | None = None) -> None:
        """One request to each path first: the services fetch the JWKS on their first token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(headers=headers, timeout=30) as client:
            for path in paths:
                client.get((api or self.system) + path).raise_for_status()

    def single(self, load: Load) -> Callable[[], Result]:
        """A run of `load` on one connection (latency, not throughput)."""
        seconds = max(3.0, self.seconds / 2)
        return lambda: wrk.run(load, connections=1, threads=1, seconds=seconds)


def interleaved(
    bench: Bench,
    runs: dict[str, Callable[[], Result]],
    *,
    between: Callable[[], None] | None = None,
    alternate: bool = False,
) -> dict[str, Summary]:
    """Run each load once per round, in turn (every other round in reverse order when
    `alternate`: no load always runs first); the medians per load."""
    results: dict[str, list[Result]] = {name: [] for name in runs}
    for round_number in range(1, bench.rounds + 1):
        order = list(runs.items())
        if alternate and round_number % 2 == 0:
            order.reverse()
        for name, run in order:
            result = run()
            results[name].append(result)
            progress(
                f"round {round_number}/{bench.rounds} {name}: {result.rps:.0f} req/s, "
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
                f"errors {result.errors}"
            )
            bench.settle()
            if between is not None:
                between()
    return {name: wrk.summarize(found) for name, found in results.items()}


REFERENCE = "/tasks/by-dependency"  # the baseline app's dependency-style endpoints


def get_by_id(bench: Bench) -> list[Row]:
    """GET by id: the system vs the plain baseline (the target), and the dependency-style
    reference; the CPU per request of the tasks process beside the plain baseline's."""
    get_path = f"/tasks/{bench.task_id}"
    bench.warm_up([get_path])
    return against_baseline(
        bench,
        ("GET /tasks/{id}", "plain baseline PK GET", 1.5),
        system=bench.on_system(get_path),
        baseline=bench.on_baseline(f"/tasks/{bench.baseline_task_id}"),
        reference=bench.on_baseline(f"{REFERENCE}/{bench.baseline_task_id}"),
    )


def post(bench: Bench, *, idle: Callable[[], None]) -> list[Row]:
    """POST: the system (its relay and consumers on the same cores) vs the plain baseline's
    INSERT + COMMIT, and the dependency-style reference; CPU per request beside it. After each
    run the relay and consumers catch up, so their work is not left to slow the next run."""
    body = json.dumps({"title": "Bench task"})
    return against_baseline(
        bench,
        ("POST /tasks/", "plain INSERT+COMMIT", 0.9),
        system=bench.on_system("/tasks/", method="POST", body=body),
        baseline=bench.on_baseline("/tasks/", method="POST", body=body),
        reference=bench.on_baseline(f"{REFERENCE}/", method="POST", body=body),
        between=idle,
    )


def against_baseline(
    bench: Bench,
    line: tuple[str, str, float],
    *,
    system: Load,
    baseline: Load,
    reference: Load,
    between: Callable[[], None] | None = None,
) -> list[Row]:
    """`line` (what, against what, the target ratio) at 32 connections: the system vs the plain
    baseline, the dependency-style reference beside it, and the CPU per request of both."""
    name, against, minimum = line
    system_cpu, baseline_cpu = bench.cpu(TASKS_APP), bench.cpu(BASELINE_APP)
    found = interleaved(
        bench,
        {
            "system": system_cpu.around(bench.c32(system)),
            "baseline": baseline_cpu.around(bench.c32(baseline)),
            "reference": bench.c32(reference),
        },
        between=between,
    )
    return [
        at_least(f"{name} c32 vs {against}", found["system"], found["baseline"], minimum),
        at_least("  vs dependency-style baseline", found["system"], found["reference"], None),
        cpu_row(f"{name} vs {against}", system_cpu, baseline_cpu),
    ]


def metrics_cost(bench: Bench) -> list[Row]:
    """GET by id and a list page: a tasks API with metrics on (tracing off: the default) vs its
    twin with metrics off, both started alike beside the system, the order alternated."""
    paths = {"GET /tasks/{id}": f"/tasks/{bench.task_id}", "GET /tasks/": "/tasks/"}
    for api in (bench.metrics_on, bench.metrics_off):
        bench.warm_up(list(paths.values()), api=api)
    runs: dict[str, Callable[[], Result]] = {}
    for name, path in paths.items():
        runs[f"{name} metrics on"] = bench.c32(bench.on_api(bench.metrics_on, path))
        runs[f"{name} metrics off"] = bench.c32(bench.on_api(bench.metrics_off, path))
    found = interleaved(bench, runs, alternate=True)
    return [
        at_least(
            f"{name} c32: metrics on vs off",
            found[f"{name} metrics on"],
            found[f"{name} metrics off"],
            0.95,
        )
        for name in paths
    ]


def list_paths(bench: Bench) -> dict[str, str]:
    """The first page of the bench month, and a page 100 pages deep.

    The deep page is reached by following `next_cursor` when the API gives one (keyset
    pagination), otherwise by asking for `page=101`.
    """
    first = f"/tasks/?{LIST_QUERY}"
    headers = {"Authorization": f"Bearer {bench.token}"}
    with httpx.Client(base_url=bench.system, headers=headers, timeout=30) as client:
        page = client.get(first).raise_for_status().json()
        if "next_cursor" not in page:
            return {"first page": first, "page 101": f"{first}&page={DEEP_PAGES + 1}"}
        for _ in range(DEEP_PAGES - 1):
            page = client.get(f"{first}&cursor={quote(page['next_cursor'])}")
            page = page.raise_for_status().json()
        return {"first page": first, "page 101": f"{first}&cursor={quote(page['next_cursor'])}"}


def list_latency(bench: Bench, paths: dict[str, str]) -> dict[str, Summary]:
    """Single-connection latency of the first and the deep page."""
    return interleaved(
        bench,
        {f"list {name} c1": bench.single(bench.on_system(path)) for name, path in paths.items()},
    )


def list_throughput(bench: Bench, paths: dict[str, str]) -> tuple[dict[str, Summary], list[Row]]:
    """Req/s of the first and the deep page at 32 connections, beside GET by id; the tasks
    process's CPU per request of the first page beside GET by id's."""
    get_cpu, list_cpu = bench.cpu(TASKS_APP), bench.cpu(TASKS_APP)
    runs = {
        "GET /tasks/{id}": get_cpu.around(bench.c32(bench.on_system(f"/tasks/{bench.task_id}")))
    }
    runs |= {f"list {name}": bench.c32(bench.on_system(path)) for name, path in paths.items()}
    runs["list first page"] = list_cpu.around(runs["list first page"])
    found = interleaved(bench, runs)
    return found, [cpu_row("GET /tasks/ first page vs GET by id", list_cpu, get_cpu)]


def kpi_throughput(bench: Bench) -> tuple[dict[str, Summary], list[Row]]:
    """Req/s of every KPI endpoint of the grown month at 32 connections, beside GET by id; the
    kpi process's CPU per request of completion-rate beside the tasks process's of GET by id."""
    get_cpu, kpi_cpu = bench.cpu(TASKS_APP), bench.cpu(KPI_APP)
    runs = {
        "GET /tasks/{id}": get_cpu.around(bench.c32(bench.on_system(f"/tasks/{bench.task_id}")))
    }
    for name, path in KPI_PATHS.items():
        runs[name] = bench.c32(bench.on_system(path))
    runs["completion-rate"] = kpi_cpu.around(runs["completion-rate"])
    bench.warm_up([*KPI_PATHS.values(), *SMALL_KPI_PATHS.values()])
    found = interleaved(bench, runs)
    return found, [cpu_row("kpi completion-rate vs GET by id", kpi_cpu, get_cpu)]


def kpi_latency(bench: Bench) -> dict[str, Summary]:
    """Single-connection latency of every KPI endpoint, for the grown month and for the small
    one (`<name> small`), in the same rounds."""
    runs = {}
    for name, path in KPI_PATHS.items():
        runs[name] = bench.single(bench.on_system(path))
        runs[f"{name} small"] = bench.single(bench.on_system(SMALL_KPI_PATHS[name]))
    return interleaved(bench, runs)
