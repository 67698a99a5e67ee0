"""Many connections at once, and logins: does the gateway path hold, does auth stay responsive."""

import json
from pathlib import Path

from benchmarks import wrk
from benchmarks.report import Row, progress
from benchmarks.scenarios import C32, Bench, interleaved
from benchmarks.system import flushed_size, gateway_statuses
from benchmarks.wrk import Result, Summary

SOAK_CONNECTIONS = 500
JWKS = "/auth/.well-known/jwks.json"
RECOVERY_SECONDS = 300


def soak(bench: Bench, *, seconds: float, log: Path) -> list[Row]:
    """GET by id on 500 connections: no timeouts, resets or 504s, and the req/s of 32.

    The 32-connection reference is measured right before the soak and again once the system
    is quick after it (their mean), so the ratio compares the same system at the same data
    size, not one measured minutes earlier.
    """
    get_by_id = bench.on_system(f"/tasks/{bench.task_id}")
    before = wrk.run(get_by_id, connections=C32, seconds=bench.seconds)
    since = flushed_size(log)
    result = wrk.run(
        bench.on_system(f"/tasks/{bench.task_id}"), connections=SOAK_CONNECTIONS, seconds=seconds
    )
    statuses = gateway_statuses(log, since=since)
    progress(
        f"c{SOAK_CONNECTIONS} {seconds:g} s: {result.rps:.0f} req/s, p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms, socket errors c/r/w/t {result.connect}/{result.read}/"
        f"{result.write}/{result.timeout}; gateway statuses {dict(sorted(statuses.items()))}"
    )
    name = f"GET /tasks/{{id}} c{SOAK_CONNECTIONS} {seconds:g}s"
    waited = bench.settle(seconds=RECOVERY_SECONDS)
    quick = "quick again" if waited < RECOVERY_SECONDS else "still not quick"
    progress(f"GET by id {quick} {waited:.0f} s after the c{SOAK_CONNECTIONS} run")
    after = wrk.run(get_by_id, connections=C32, seconds=bench.seconds)
    c32_rps = (before.rps + after.rps) / 2
    progress(f"c{C32} around it: {before.rps:.0f} req/s before, {after.rps:.0f} req/s after")
    return [
        *_failures_row(name, result, statuses.get(504, 0)),
        _success_row(name, result),
        Row(
            scenario=f"{name}: req/s vs c32",
            system=f"{result.rps:.0f} req/s",
            reference=f"{c32_rps:.0f} req/s (c{C32} before and after)",
            ratio=result.rps / c32_rps,
            p50_ms=result.p50_ms,
            p99_ms=result.p99_ms,
            errors=result.errors,
            target=">= 0.8x",
            passed=result.rps >= 0.8 * c32_rps,
        ),
    ]


def _failures_row(name: str, result: Result, gateway_504: int) -> list[Row]:
    breakdown = f"{result.connect}/{result.read}/{result.write}/{result.timeout}"
    return [
        Row(
            scenario=f"{name}: socket errors (c/r/w/t)",
            system=str(result.socket_errors),
            reference=breakdown,
            errors=result.socket_errors,
            target="= 0",
            passed=result.socket_errors == 0,
        ),
        Row(
            scenario=f"{name}: 504s (gateway log)",
            system=str(gateway_504),
            errors=gateway_504,
            target="= 0",
            passed=gateway_504 == 0,
        ),
    ]


def _success_row(name: str, result: Result) -> Row:
    # A reset or refused connection is a request that got no answer; a timed-out response
    # (counted among wrk's requests too) is not a success either.
    attempts = result.requests + result.connect + result.read + result.write
    ok = max(result.requests - result.non_2xx - result.timeout, 0)
    share = ok / attempts if attempts else 0.0
    return Row(
        scenario=f"{name}: 2xx share",
        system=f"{share:.2%}",
        reference=f"{ok}/{attempts}",
        errors=result.errors,
        target=">= 99%",
        passed=share >= 0.99,
    )


def login(bench: Bench, *, username: str, password: str) -> list[Row]:
    """Logins/s at 32 connections, and JWKS latency while they run vs JWKS alone."""
    body = json.dumps({"username": username, "password": password})
    logins = bench.on_system("/auth/login", method="POST", body=body)
    jwks = bench.on_system(JWKS)
    during: list[Result] = []

    def logins_with_jwks() -> Result:
        probe = wrk.start(jwks, connections=1, threads=1, seconds=bench.seconds)
        result = wrk.run(logins, connections=C32, seconds=bench.seconds)
        during.append(probe.result())
        return result

    found = interleaved(
        bench,
        {
            "JWKS alone c1": lambda: wrk.run(jwks, connections=1, threads=1, seconds=bench.seconds),
            "login c32 (+ JWKS c1)": logins_with_jwks,
        },
    )
    loaded, alone = wrk.summarize(during), found["JWKS alone c1"]
    progress(f"JWKS c1 while logins ran: p50 {loaded.p50_ms:.2f} ms, p99 {loaded.p99_ms:.2f} ms")
    return _login_rows(found["login c32 (+ JWKS c1)"], loaded=loaded, alone=alone)


def _login_rows(logins: Summary, *, loaded: Summary, alone: Summary) -> list[Row]:
    return [
        Row(
            scenario="POST /auth/login c32 (Argon2id)",
            system=f"{logins.rps:.1f} /s",
            p50_ms=logins.p50_ms,
            p99_ms=logins.p99_ms,
            errors=logins.errors,
        ),
        Row(
            scenario="JWKS c1 p50 during logins vs alone",
            system=f"{loaded.p50_ms:.2f} ms",
            reference=f"{alone.p50_ms:.2f} ms",
            ratio=loaded.p50_ms / alone.p50_ms if alone.p50_ms else None,
            p50_ms=loaded.p50_ms,
            p99_ms=loaded.p99_ms,
            errors=loaded.errors,
        ),
        Row(
            scenario="JWKS c1 p99 during logins vs alone",
            system=f"{loaded.p99_ms:.2f} ms",
            reference=f"{alone.p99_ms:.2f} ms",
            ratio=loaded.p99_ms / alone.p99_ms if alone.p99_ms else None,
            p50_ms=loaded.p50_ms,
            p99_ms=loaded.p99_ms,
            errors=loaded.errors,
        ),
    ]
