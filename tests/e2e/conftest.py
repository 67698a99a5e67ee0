"""Start the whole system as `make run` does, on its own database, vhost and ports.

The system under test is `make run` itself, with the environment pointing it at the
`efficient_e2e_test` database (recreated), the `efficient_e2e_test` RabbitMQ vhost (recreated)
and ports 18001-18005 / 18080 (metrics 181xx, Prometheus 18090), so a running development
system is never touched. `E2E_NAME` and `E2E_PORT_BASE` (18000) move both, so two checkouts can
run their end-to-end tests at once.
"""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import fresh_database
from gateway.render import LOCAL_ACCESS_LOG
from scripts.prometheus_config import JOBS

ROOT = Path(__file__).parents[2]
LOCAL = ROOT / ".local" / "e2e"
E2E_NAME = os.environ.get("E2E_NAME", "efficient_e2e_test")
BASE = int(os.environ.get("E2E_PORT_BASE", "18000"))
GATEWAY_ROOT = f"http://127.0.0.1:{BASE + 80}"
GATEWAY = f"{GATEWAY_ROOT}/api"
AUTH_ROOT = f"http://127.0.0.1:{BASE + 1}"
PORTS = {
    f"{service}_PORT": str(BASE + number)
    for number, service in enumerate(("AUTH", "TASKS", "LOGS", "KPI", "HOOKS"), start=1)
}
# Each process's metrics port and Prometheus's: `make run`'s defaults + the base - 9000
# (18101, ... 18090 with the default base).
METRICS_PORTS = {variable: str(port + BASE - 9000) for variable, port in JOBS.values()}
PROMETHEUS = f"http://127.0.0.1:{BASE + 90}"


def _fresh_vhost() -> None:
    """A RabbitMQ virtual host of the tests' own: no exchange or queue is shared with `make run`."""
    for args in (
        ["delete_vhost", E2E_NAME],
        ["add_vhost", E2E_NAME],
        ["set_permissions", "-p", E2E_NAME, "guest", ".*", ".*", ".*"],
    ):
        result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True)
        if result.returncode != 0 and args[0] != "delete_vhost":
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")


def _wait_until_up(process: subprocess.Popen[bytes], log: Path) -> None:
    # Generous: on a loaded machine each service's prestart alone can take tens of seconds.
    deadline = time.monotonic() + 300
    probes = [
        "/healthz",
        "/auth/.well-known/jwks.json",
        "/tasks/docs",
        "/logs/docs",
        "/kpi/docs",
        "/hooks/docs",
    ]
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`make run` exited early:\n{log.read_text()[-4000:]}")
        try:
            if all(httpx.get(GATEWAY + probe, timeout=2).status_code == 200 for probe in probes):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the system did not come up:\n{log.read_text()[-4000:]}")


@dataclass(frozen=True)
class System:
    log: Path  # what `make run` prints
    gateway_log: Path  # the gateway's access log (`make run` writes it to a file)
    database_url: str
    env: dict[str, str]  # the environment `make run` was started with (for more replicas)


@pytest.fixture(scope="session")
def system(database_url: str) -> Iterator[System]:  # `database_url`: the tests' server
    """The running system: its combined log, and its database (for deploy-time commands)."""
    e2e_database_url = fresh_database(database_url, E2E_NAME)
    _fresh_vhost()
    LOCAL.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **PORTS,
        **METRICS_PORTS,
        "GATEWAY_PORT": str(BASE + 80),
        "GATEWAY_DIR": str(LOCAL / "gateway"),
        "PROMETHEUS_DIR": str(LOCAL / "prometheus"),
        "PROMETHEUS_SCRAPE_INTERVAL": "1s",  # the e2e test waits for every target to be up
        # The tests' X-Forwarded-For names the client, so a test can act from an address of
        # its own (brute-force counts are per address); the flood guard keeps its defaults.
        "GATEWAY_TRUSTED_PROXIES": "127.0.0.1",
        "CORS_ALLOWED_ORIGINS": "http://localhost:5173",
        "DATABASE_URL": e2e_database_url,
        "AMQP_URL": f"amqp://guest:guest@127.0.0.1:5672/{E2E_NAME}",
        "AUTH_URL": AUTH_ROOT,
        "AUTH_JWKS_URL": f"{AUTH_ROOT}/auth/.well-known/jwks.json",
        "JWT_GENERATED_KEY_PATH": str(LOCAL / "signing-key.pem"),
        "RELAY_POLL_SECONDS": "0.5",
        "ACCESS_TOKEN_EXPIRE_MINUTES": "15",
        "ACCESS_LOG": "true",  # the services' own access lines, beside the gateway's
    }
    log = LOCAL / "system.log"
    # The web app's build (when its sources changed) is `make run`'s slow step: done first, so
    # that the wait below is for the processes alone.
    subprocess.run(["make", "--no-print-directory", "frontend"], cwd=ROOT, check=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(process, log)
        gateway_log = LOCAL / "gateway" / LOCAL_ACCESS_LOG
        yield System(log=log, gateway_log=gateway_log, database_url=e2e_database_url, env=env)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def api(system: System) -> Iterator[httpx.Client]:
    """An HTTP client of the gateway, as the Vue front end would use it."""
    with httpx.Client(base_url=GATEWAY, timeout=10) as client:
        yield client
