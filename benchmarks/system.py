"""Start what `make bench` measures, and stop it again, whatever happens.

The system under test is `make run` itself (as tests/e2e/conftest.py starts it), pointed at
the `efficient_bench_test` database and RabbitMQ vhost (both recreated) and ports
19001-19004 / 19080 (metrics 194xx, Prometheus 19390). The baseline app runs behind a second
nginx rendered from the same gateway template (ports 19010 / 19081). Two more tasks APIs, the
system's own started alike but for one setting, each behind an nginx of its own, are the pair
that measures what metrics cost: `METRICS_PORT=0` (metrics off; 19011 / 19082) and metrics on
(19012 / 19083, metrics 19431). All of them run under honcho as `make run` runs its processes.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

from gateway.render import LOCAL_ACCESS_LOG
from scripts.prometheus_config import JOBS

ROOT = Path(__file__).parents[1]
LOCAL = ROOT / ".local" / "bench"
# A second bench on the same machine (another checkout) takes another name and shifted ports.
NAME = os.environ.get("BENCH_NAME", "efficient_bench_test")
_SHIFT = int(os.environ.get("BENCH_PORT_SHIFT", "0"))
PORTS = {
    "AUTH_PORT": str(19001 + _SHIFT),
    "TASKS_PORT": str(19002 + _SHIFT),
    "LOGS_PORT": str(19003 + _SHIFT),
    "KPI_PORT": str(19004 + _SHIFT),
    "HOOKS_PORT": str(19005 + _SHIFT),
}
GATEWAY_PORT, BASELINE_GATEWAY_PORT, BASELINE_PORT = 19080 + _SHIFT, 19081 + _SHIFT, 19010 + _SHIFT
METRICS_OFF_GATEWAY_PORT, METRICS_OFF_PORT = 19082 + _SHIFT, 19011 + _SHIFT
METRICS_ON_GATEWAY_PORT, METRICS_ON_PORT = 19083 + _SHIFT, 19012 + _SHIFT
# Each process's metrics port (`make run`'s default + 10300) and Prometheus's: the system is
# measured with its metrics on and scraped, as it runs.
METRICS_PORTS = {variable: str(port + 10300 + _SHIFT) for variable, port in JOBS.values()}
SYSTEM_API = f"http://127.0.0.1:{GATEWAY_PORT}/api"
BASELINE_API = f"http://127.0.0.1:{BASELINE_GATEWAY_PORT}/api"
METRICS_OFF_API = f"http://127.0.0.1:{METRICS_OFF_GATEWAY_PORT}/api"
METRICS_ON_API = f"http://127.0.0.1:{METRICS_ON_GATEWAY_PORT}/api"
AMQP_URL = f"amqp://guest:guest@127.0.0.1:5672/{NAME}"
ACCESS_LOG_FLUSH_SECONDS = 1.5  # the gateway writes its access log at least every second
# Logins are what is measured: the per-address limit must not be what stops them.
RATE_LIMIT = {"GATEWAY_AUTH_RATE": "100000r/s", "GATEWAY_AUTH_BURST": "100000"}
# An admin, made by auth's prestart: it imports tasks into past months (benchmarks/writes.py).
ADMIN = {"ADMIN_USERNAME": "bench_admin", "ADMIN_PASSWORD": "bench-admin-password"}


@dataclass(frozen=True)
class Running:
    """What is up: the processes, the combined log of `make run`, and the gateway's access log
    (a file under `make run`)."""

    system_log: Path
    baseline_log: Path
    gateway_log: Path
    processes: list[subprocess.Popen[bytes]]

    @property
    def system_pid(self) -> int:
        """The process `make run` runs in (its processes are its descendants)."""
        return self.processes[0].pid

    def check(self) -> None:
        """Raise when the system or the baseline has stopped (a bench of nothing is no bench)."""
        for process, log in zip(self.processes, (self.system_log, self.baseline_log), strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"{log.name}: stopped during the bench:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def fresh_vhost() -> None:
    """The bench's own RabbitMQ virtual host, empty."""
    for args in (
        ["delete_vhost", NAME],
        ["add_vhost", NAME],
        ["set_permissions", "-p", NAME, "guest", ".*", ".*", ".*"],
    ):
        result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True)
        if result.returncode != 0 and args[0] != "delete_vhost":
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")


def system_env(database_url: str) -> dict[str, str]:
    """The environment of `make run` for the bench."""
    return {
        **os.environ,
        **PORTS,
        **METRICS_PORTS,
        **RATE_LIMIT,
        **ADMIN,
        "GATEWAY_PORT": str(GATEWAY_PORT),
        "GATEWAY_DIR": str(LOCAL / "gateway"),
        "PROMETHEUS_DIR": str(LOCAL / "prometheus"),
        "DATABASE_URL": database_url,
        "AMQP_URL": AMQP_URL,
        "AUTH_URL": f"http://127.0.0.1:{PORTS['AUTH_PORT']}",
        "AUTH_JWKS_URL": f"http://127.0.0.1:{PORTS['AUTH_PORT']}/auth/.well-known/jwks.json",
        "JWT_GENERATED_KEY_PATH": str(LOCAL / "signing-key.pem"),
        "ACCESS_TOKEN_EXPIRE_MINUTES": "240",  # one token lasts the whole bench
        "HOOKS_ALLOWED_TARGETS": "127.0.0.1/32",  # the webhook receiver of benchmarks/hooks.py
    }


def baseline_env(database_url: str) -> dict[str, str]:
    """The environment of the baseline app, the metrics-off and metrics-on tasks APIs and their
    nginxes (the same template, one upstream moved); the tasks APIs' settings are the system's."""
    return {
        **system_env(database_url),
        "BASELINE_PORT": str(BASELINE_PORT),
        "METRICS_OFF_PORT": str(METRICS_OFF_PORT),
        "METRICS_OFF_GATEWAY_DIR": str(LOCAL / "metrics-off-gateway"),
        "METRICS_ON_PORT": str(METRICS_ON_PORT),
        "METRICS_ON_METRICS_PORT": str(19431 + _SHIFT),
        "METRICS_ON_GATEWAY_DIR": str(LOCAL / "metrics-on-gateway"),
        "GATEWAY_PORT": str(BASELINE_GATEWAY_PORT),
        "GATEWAY_DIR": str(LOCAL / "baseline-gateway"),
        "GATEWAY_ACCESS_LOG": LOCAL_ACCESS_LOG,  # as `make run` writes the system's
        "NGINX_BIN": shutil.which("nginx") or "/usr/sbin/nginx",  # as the Makefile finds it
        "AUTH_UPSTREAM": f"127.0.0.1:{PORTS['AUTH_PORT']}",
        "TASKS_UPSTREAM": f"127.0.0.1:{BASELINE_PORT}",
        "LOGS_UPSTREAM": f"127.0.0.1:{PORTS['LOGS_PORT']}",
        "KPI_UPSTREAM": f"127.0.0.1:{PORTS['KPI_PORT']}",
        "HOOKS_UPSTREAM": f"127.0.0.1:{PORTS['HOOKS_PORT']}",
    }


@contextmanager
def process_group(
    command: list[str], *, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in a process group of its own; SIGTERM the group on the way out."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until(ready: list[tuple[str, int]], *, log: Path, seconds: float = 300) -> None:
    """Poll until every (url, status) answers so; the log's tail in the error otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if all(httpx.get(url, timeout=2).status_code == code for url, code in ready):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{log.name}: not up after {seconds:.0f} s:\n{_tail(log)}")


def render_gateways(env: dict[str, str]) -> None:
    """The baseline's nginx config, and the metrics-off and metrics-on tasks APIs' (their tasks
    upstream moved)."""
    twins = [
        {
            **env,
            "GATEWAY_PORT": str(gateway_port),
            "GATEWAY_DIR": env[f"{twin}_GATEWAY_DIR"],
            "TASKS_UPSTREAM": f"127.0.0.1:{api_port}",
        }
        for twin, gateway_port, api_port in (
            ("METRICS_OFF", METRICS_OFF_GATEWAY_PORT, METRICS_OFF_PORT),
            ("METRICS_ON", METRICS_ON_GATEWAY_PORT, METRICS_ON_PORT),
        )
    ]
    for gateway in (env, *twins):
        subprocess.run(
            [str(ROOT / ".venv/bin/python"), "gateway/render.py", gateway["GATEWAY_DIR"]],
            cwd=ROOT,
            env=gateway,
            check=True,
        )


@contextmanager
def running(database_url: str) -> Iterator[Running]:
    """The system (`make run`) and the baseline's processes, up; stopped on the way out."""
    LOCAL.mkdir(parents=True, exist_ok=True)
    fresh_vhost()
    system_log, baseline_log = LOCAL / "system.log", LOCAL / "baseline.log"
    with ExitStack() as stack:
        system = stack.enter_context(
            process_group(
                ["make", "--no-print-directory", "run"],
                env=system_env(database_url),
                log=system_log,
            )
        )
        env = baseline_env(database_url)
        render_gateways(env)
        baseline = stack.enter_context(
            process_group(
                [str(ROOT / ".venv/bin/honcho"), "start", "-f", "benchmarks/Procfile.baseline"],
                env=env,
                log=baseline_log,
            )
        )
        probes = ["/healthz", "/auth/.well-known/jwks.json", "/tasks/docs", "/kpi/docs"]
        # `make run` migrates every service first: minutes on a loaded machine.
        wait_until([(SYSTEM_API + probe, 200) for probe in probes], log=system_log, seconds=600)
        wait_until(
            [
                (BASELINE_API + "/tasks/0", 404),
                (METRICS_OFF_API + "/tasks/docs", 200),
                (METRICS_ON_API + "/tasks/docs", 200),
            ],
            log=baseline_log,
        )
        yield Running(
            system_log=system_log,
            baseline_log=baseline_log,
            gateway_log=LOCAL / "gateway" / LOCAL_ACCESS_LOG,
            processes=[system, baseline],
        )


def wait_until_idle(engine: Engine, *, seconds: float = 300) -> None:
    """Wait until the outbox is published and the consumers' queues are empty."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            unpublished = connection.scalar(
                text("SELECT count(*) FROM tasks.outbox WHERE published_at IS NULL")
            )
        if unpublished == 0 and _queued_messages() == 0:
            return
        time.sleep(1)
    raise RuntimeError(f"the relay and consumers did not catch up in {seconds:.0f} s")


def _queued_messages() -> int:
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", NAME, "--no-table-headers", "name", "messages"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split() for line in listed.stdout.splitlines() if line.strip()]
    # Dead letters and unrouted events stay where they are; only the live queues must drain.
    return sum(int(row[-1]) for row in rows if not row[0].endswith((".dead", ".unrouted")))


def gateway_statuses(log: Path, *, since: int) -> Counter[int]:
    """Statuses in the gateway's access log after its byte `since`, once nginx has written
    what it buffered."""
    time.sleep(ACCESS_LOG_FLUSH_SECONDS)
    statuses: Counter[int] = Counter()
    with log.open("rb") as lines:
        lines.seek(since)
        for line in lines:
            try:
                statuses[int(json.loads(line)["status"])] += 1
            except (ValueError, KeyError):
                continue
    return statuses


def flushed_size(log: Path) -> int:
    """The size of the gateway's access log once nginx has written what it buffered (it
    flushes its buffer every second)."""
    time.sleep(ACCESS_LOG_FLUSH_SECONDS)
    return log.stat().st_size
