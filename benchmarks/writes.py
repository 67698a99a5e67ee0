"""Does the write rate hold as the data grows? POSTs into a month of 100k tasks vs one of 1k.

An admin may import history (`created_at` in the past), so the same POST /tasks/ lands in
either bench month: the tasks, the outbox, the relay and the consumers do the same work
as for any create, against a month (and a database) of either size, in interleaved rounds.
"""

import json
from collections.abc import Callable
from datetime import date

import httpx

from benchmarks.data import MONTH, SMALL_MONTH
from benchmarks.report import Row, at_least
from benchmarks.scenarios import Bench, interleaved
from benchmarks.system import ADMIN
from benchmarks.wrk import Load


def admin_token(api: str) -> str:
    """The access token of the admin auth's prestart made (`system.ADMIN`)."""
    body = {"username": ADMIN["ADMIN_USERNAME"], "password": ADMIN["ADMIN_PASSWORD"]}
    response = httpx.post(f"{api}/auth/login", json=body, timeout=30)
    return str(response.raise_for_status().json()["access_token"])


def _into(month: date) -> str:
    return json.dumps({"title": "Bench import", "created_at": f"{month:%Y-%m}-15T12:00:00Z"})


def month_writes(bench: Bench, *, token: str, idle: Callable[[], None]) -> list[Row]:
    """POST /tasks/ at 32 connections into the 100k month and into the 1k one, the relay and
    consumers catching up after each run."""
    runs = {
        month: bench.c32(
            Load(url=f"{bench.system}/tasks/", method="POST", body=_into(month), token=token)
        )
        for month in (MONTH, SMALL_MONTH)
    }
    found = interleaved(bench, {f"{m:%Y-%m}": run for m, run in runs.items()}, between=idle)
    return [
        at_least(
            "POST /tasks/ c32 into a 100k month vs a 1k month",
            found[f"{MONTH:%Y-%m}"],
            found[f"{SMALL_MONTH:%Y-%m}"],
            0.9,
        )
    ]
