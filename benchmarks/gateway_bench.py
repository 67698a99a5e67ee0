"""`make bench`: the system through its real gateway, beside a bare FastAPI baseline.

    python -m benchmarks.gateway_bench [--seconds 10] [--rounds 3] [--soak-seconds 60]

Starts the system as `make run` does (on `efficient_bench_test`, ports 19001-19004 / 19080) and
the baseline app behind an nginx from the same template (19010 / 19081), measures with wrk
in interleaved rounds, prints one table of ratios with a target and PASS/FAIL per line, and
stops everything (also on Ctrl-C or an error). BENCH_SECONDS, BENCH_ROUNDS and
BENCH_SOAK_SECONDS set the defaults of the flags.
"""

import argparse
import os
import signal
import time
from collections.abc import Callable
from datetime import date
from typing import Any, NoReturn

import httpx
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from benchmarks import cpu, data, event_path, stress, system, writes, wrk
from benchmarks.report import Row, at_least, latency_within, progress, render
from benchmarks.scenarios import (
    KPI_PATHS,
    Bench,
    get_by_id,
    kpi_latency,
    kpi_throughput,
    list_latency,
    list_paths,
    list_throughput,
    metrics_cost,
    post,
)
from benchmarks.system import Running
from benchmarks.wrk import Summary
from conftest import DEFAULT_TEST_DATABASE_URL, fresh_database
from shared.core.db import CONNECT_ARGS

USERS = ["bench_ada", "bench_bob", "bench_cy"]
GET_BY_ID = "GET /tasks/{id}"
Idle = Callable[[], None]
# What runs against the started system: the bench, its database, the users' ids; the rows.
Measure = Callable[[Bench, Engine, list[int], Running], list[Row]]
HEADER = """make bench: the system through its gateway (make run on {name}, :{port})
beside benchmarks/baseline.py behind an nginx from the same template (:{baseline_port}),
and two more of the system's tasks APIs, metrics off and on, each behind another
(:{metrics_off_port}, :{metrics_on_port})
wrk -t2 -c32 (c1: -t1) for {seconds:g} s a run; {rounds} interleaved rounds; medians;
a response slower than {timeout} s is a wrk timeout. Tasks for the list and KPI scenarios are
loaded with bulk SQL into tasks.task and the KPI read model, not through the API."""
PASSWORD = "bench-password"


def arguments() -> argparse.Namespace:
    """The flags, their defaults from the environment."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gateway_bench")
    env = os.environ.get
    parser.add_argument("--seconds", type=float, default=float(env("BENCH_SECONDS", "10")))
    parser.add_argument("--rounds", type=int, default=int(env("BENCH_ROUNDS", "3")))
    parser.add_argument(
        "--soak-seconds", type=float, default=float(env("BENCH_SOAK_SECONDS", "60"))
    )
    return parser.parse_args()


def sign_in(api: str) -> tuple[str, list[int]]:
    """Register the bench's users through the gateway; the first one's token, and every id."""
    ids, token = [], ""
    with httpx.Client(base_url=api, timeout=30) as client:
        for name in USERS:
            body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
            client.post("/auth/register", json=body).raise_for_status()
            tokens = client.post("/auth/login", json={"username": name, "password": PASSWORD})
            access = tokens.raise_for_status().json()["access_token"]
            me = client.get("/auth/me", headers={"Authorization": f"Bearer {access}"})
            ids.append(int(me.raise_for_status().json()["id"]))
            token = token or access
    return token, ids


def create_one(api: str, token: str, *, wait_seconds: float = 30.0) -> int:
    """One task through `api`'s POST /tasks/; its id. A 503 is tried again for a while: right
    after start the tasks service may not hold auth's keys yet (it fetches them in the
    background, and asks again at most once a second)."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + wait_seconds
    while True:
        response = httpx.post(f"{api}/tasks/", json={"title": "Bench task"}, headers=headers)
        if response.status_code != 503 or time.monotonic() > deadline:
            return int(response.raise_for_status().json()["id"])
        time.sleep(0.5)


def grow(engine: Engine, total: int, ids: list[int], idle: Idle, month: date = data.MONTH) -> None:
    """A bench month up to `total` tasks, loaded with SQL (see benchmarks/data.py)."""
    idle()
    added, seconds = data.grow_month(
        engine, total=total, creator_id=ids[0], assignees=[None, *ids], month=month
    )
    progress(
        f"{month:%Y-%m} now holds {total} tasks: {added} added with bulk SQL into "
        f"tasks.task and the KPI read model (not through the API) in {seconds:.1f} s"
    )


def month_scenarios(bench: Bench, engine: Engine, ids: list[int], idle: Idle) -> list[Row]:
    """Lists as the bench month grows from 10k tasks to 100k; KPIs of that month at 100k beside
    those of a month with 1k tasks, in the same rounds."""
    grow(engine, 1_000, ids, idle, month=data.SMALL_MONTH)
    grow(engine, 10_000, ids, idle)
    list_small = list_latency(bench, list_paths(bench))
    grow(engine, 100_000, ids, idle)
    paths = list_paths(bench)
    list_big = list_latency(bench, paths)
    list_rps, rows = list_throughput(bench, paths)
    kpis, kpi_cpu = kpi_throughput(bench)
    rows += [
        latency_within(
            f"list {name} c1 p50: 100k vs 10k",
            list_big[f"list {name} c1"],
            list_small[f"list {name} c1"],
            1.1,
        )
        for name in paths
    ]
    rows += [
        at_least(
            f"list {name} c32 (100k) vs GET by id",
            list_rps[f"list {name}"],
            list_rps[GET_BY_ID],
            0.8,
        )
        for name in paths
    ]
    return rows + kpi_cpu + kpi_rows(kpis, kpi_latency(bench))


def kpi_rows(kpis: dict[str, Summary], latency: dict[str, Summary]) -> list[Row]:
    """Each KPI of the 100k month against GET by id, and its c1 p50 against the 1k month's."""
    rows = []
    for name in KPI_PATHS:
        rows.append(
            at_least(f"kpi {name} c32 (100k) vs GET by id", kpis[name], kpis[GET_BY_ID], 1.0)
        )
        rows.append(
            latency_within(
                f"kpi {name} c1 p50: 100k vs 1k month", latency[name], latency[f"{name} small"], 1.1
            )
        )
    return rows


def measure(
    bench: Bench, engine: Engine, ids: list[int], running: Running, *, soak_seconds: float
) -> list[Row]:
    """Every scenario, in order; the rows of the table."""

    def idle() -> None:
        system.wait_until_idle(engine)

    rows = get_by_id(bench)
    rows += metrics_cost(bench)
    # It ends idle: the month's bulk load below must not meet a backlog.
    rows += event_path.measure(bench, engine, creator_id=ids[0], system_pid=running.system_pid)
    rows += month_scenarios(bench, engine, ids, idle)
    idle()
    # On a database that holds 100k tasks, as a production one would.
    rows += post(bench, idle=idle)
    rows += writes.month_writes(bench, token=writes.admin_token(bench.system), idle=idle)
    rows += stress.login(bench, username=USERS[0], password=PASSWORD)
    # Last: 500 connections may leave the system slow for minutes afterwards.
    rows += stress.soak(bench, seconds=soak_seconds, log=running.gateway_log)
    return rows


def _exit_on_sigterm(signum: int, frame: Any) -> NoReturn:
    raise SystemExit(128 + signum)  # unwinds through `system.running`, which stops everything


def start_and_measure(measure_with: Measure, *, header: str = HEADER) -> None:
    """Start the system and the baseline, run `measure_with`, stop everything, print the table."""
    args = arguments()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    url = fresh_database(
        os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL), system.NAME
    )
    engine = create_engine(url, connect_args=CONNECT_ARGS)
    print(
        header.format(
            name=system.NAME,
            port=system.GATEWAY_PORT,
            baseline_port=system.BASELINE_GATEWAY_PORT,
            metrics_off_port=system.METRICS_OFF_GATEWAY_PORT,
            metrics_on_port=system.METRICS_ON_GATEWAY_PORT,
            seconds=args.seconds,
            rounds=args.rounds,
            timeout=wrk.TIMEOUT_SECONDS,
        ),
        flush=True,
    )
    started = time.monotonic()
    try:
        with system.running(url) as running:
            token, ids = sign_in(system.SYSTEM_API)
            bench = Bench(
                system=system.SYSTEM_API,
                baseline=system.BASELINE_API,
                metrics_off=system.METRICS_OFF_API,
                metrics_on=system.METRICS_ON_API,
                token=token,
                task_id=create_one(system.SYSTEM_API, token),
                baseline_task_id=create_one(system.BASELINE_API, token),
                seconds=args.seconds,
                rounds=args.rounds,
                check=running.check,
                pids=lambda app: cpu.app_pids([p.pid for p in running.processes], app),
            )
            rows = measure_with(bench, engine, ids, running)
    finally:
        engine.dispose()
    print()
    print(render(rows))
    targets = [row for row in rows if row.passed is not None]
    passed = sum(1 for row in targets if row.passed)
    print(f"\n{passed} of {len(targets)} targets pass ({time.monotonic() - started:.0f} s in all)")


def main() -> None:
    """Start, measure every scenario, stop, print the table."""
    soak_seconds = arguments().soak_seconds
    start_and_measure(
        lambda bench, engine, ids, running: measure(
            bench, engine, ids, running, soak_seconds=soak_seconds
        )
    )


if __name__ == "__main__":
    main()
