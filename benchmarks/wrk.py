"""Run wrk with `request.lua` and read its one-line JSON result; medians of several runs."""

import json
import os
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("request.lua")
MARKER = "WRK_JSON "
TIMEOUT_SECONDS = 5  # a response slower than this counts as a wrk timeout (wrk's default: 2)


@dataclass(frozen=True)
class Load:
    """One request, repeated by wrk: where, how, and with which bearer token."""

    url: str
    method: str = "GET"
    body: str = ""
    token: str = ""


@dataclass(frozen=True)
class Result:
    """What one wrk run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses": a status of 400 or more
    connect: int
    read: int
    write: int
    timeout: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def socket_errors(self) -> int:
        return self.connect + self.read + self.write + self.timeout

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx


@dataclass(frozen=True)
class Summary:
    """The medians of several runs of one load, and their errors summed."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    runs: int


def require_wrk() -> str:
    """The wrk executable; `make bench` installs it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install wrk)")
    return path


def start(load: Load, *, connections: int, seconds: float, threads: int = 2) -> "Run":
    """Start wrk in the background; `Run.result()` waits for it."""
    command = [
        require_wrk(),
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        f"--timeout={TIMEOUT_SECONDS}s",
        "-s",
        str(SCRIPT),
        load.url,
    ]
    env = {**os.environ, "WRK_METHOD": load.method, "WRK_BODY": load.body, "WRK_TOKEN": load.token}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return Run(process)


class Run:
    """A wrk process started by `start`."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def result(self) -> Result:
        """Wait for wrk and parse its JSON line."""
        stdout, stderr = self.process.communicate()
        for line in stdout.decode().splitlines():
            if line.startswith(MARKER):
                return parse(json.loads(line[len(MARKER) :]))
        raise RuntimeError(f"wrk printed no result:\n{stdout.decode()}\n{stderr.decode()}")


def run(load: Load, *, connections: int, seconds: float, threads: int = 2) -> Result:
    """One wrk run, waited for."""
    return start(load, connections=connections, seconds=seconds, threads=threads).result()


def parse(data: dict[str, float]) -> Result:
    """A `Result` from the numbers `request.lua` prints (times in microseconds)."""
    return Result(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non_2xx=int(data["status"]),
        connect=int(data["connect"]),
        read=int(data["read"]),
        write=int(data["write"]),
        timeout=int(data["timeout"]),
    )


def summarize(results: list[Result]) -> Summary:
    """Medians of req/s, p50 and p99 over `results`."""
    return Summary(
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
        runs=len(results),
    )
