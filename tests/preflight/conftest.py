"""A private PostgreSQL cluster and a private RabbitMQ node for the preflight's tests.

Both live in a temporary directory and listen on ports of their own (E2E_PORT_BASE + 432 and
+ 672 to + 684, clear of the e2e system's), so the shared servers on 5432 and 5672 are never
stopped or changed.
The cluster is registered under its own PG_CLUSTER_CONF_ROOT, so pg_lsclusters and
pg_ctlcluster see it alone; the node has its own RABBITMQ_NODENAME, ports, data and config.
"""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.servers import Machine, answers, newest_postgres

PORT_BASE = int(os.environ.get("E2E_PORT_BASE", "18000"))  # as tests/e2e
POSTGRES_PORT = PORT_BASE + 432
AMQP_PORT = PORT_BASE + 672
NODE = f"preflight-{PORT_BASE}@localhost"
VERSION = newest_postgres()
CLUSTER = f"preflight{PORT_BASE}"  # never the shared cluster's name ("main")


@dataclass(frozen=True)
class Private:
    """A private server: the URL that points at it, and the machine whose env finds it."""

    url: str
    machine: Machine
    port: int


def _owned_dir(owner: str) -> Path:
    """A temporary directory the server's OS user can use (pytest's tmp_path is root-only)."""
    directory = Path(tempfile.mkdtemp(prefix=f"preflight-{PORT_BASE}-"))
    directory.chmod(0o755)
    shutil.chown(directory, owner, owner)
    return directory


def run(machine: Machine, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a command against the private server; fail the test with its output if it fails."""
    done = subprocess.run(argv, env=machine.env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[Private]:
    """A cluster created (stopped) with pg_createcluster under a private config root.

    Its name is its own, and so is every file it writes (no pg_dropcluster: that one also
    deletes /var/log/postgresql/postgresql-<version>-<name>.log), so the shared cluster's
    pid and log files are never touched.
    """
    base = _owned_dir("postgres")
    env = {**os.environ, "PG_CLUSTER_CONF_ROOT": str(base / "etc")}
    machine = Machine(env=env, systemd=False, root=True)
    create = ["pg_createcluster", "-p", str(POSTGRES_PORT), "-d", str(base / "data")]
    create += ["-s", str(base), "-l", str(base / "postgresql.log"), VERSION, CLUSTER]
    run(machine, *create)
    conf = base / "etc" / VERSION / CLUSTER / "postgresql.conf"
    with conf.open("a") as out:
        out.write(f"external_pid_file = '{base / 'postgresql.pid'}'\n")
    try:
        yield Private(
            url=f"postgresql+psycopg2://postgres@127.0.0.1:{POSTGRES_PORT}/preflight_bare_test",
            machine=machine,
            port=POSTGRES_PORT,
        )
    finally:
        stop = ["pg_ctlcluster", "--skip-systemctl-redirect", VERSION, CLUSTER, "stop"]
        subprocess.run(stop, env=env, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def stopped_postgres(private_postgres: Private) -> Private:
    """The private cluster, stopped."""
    if answers("127.0.0.1", private_postgres.port):
        stop = ("pg_ctlcluster", "--skip-systemctl-redirect", VERSION, CLUSTER, "stop")
        run(private_postgres.machine, *stop)
    return private_postgres


@pytest.fixture
def running_postgres(private_postgres: Private) -> Private:
    """The private cluster, running (pg_ctlcluster waits until it accepts connections)."""
    if not answers("127.0.0.1", private_postgres.port):
        start = ("pg_ctlcluster", "--skip-systemctl-redirect", VERSION, CLUSTER, "start")
        run(private_postgres.machine, *start)
    return private_postgres


def _rabbitmq_env(base: Path) -> dict[str, str]:
    (base / "enabled_plugins").write_text("[].\n")  # no management listener on 15672
    (base / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{AMQP_PORT}\n")
    (base / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's NODENAME
    return {
        **os.environ,
        "RABBITMQ_NODENAME": NODE,
        "RABBITMQ_NODE_PORT": str(AMQP_PORT),
        "RABBITMQ_DIST_PORT": str(AMQP_PORT + 1),
        "RABBITMQ_CTL_DIST_PORT_MIN": str(AMQP_PORT + 2),
        "RABBITMQ_CTL_DIST_PORT_MAX": str(AMQP_PORT + 12),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "node.pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
    }


@pytest.fixture(scope="module")
def private_rabbitmq() -> Iterator[Private]:
    """A node of its own (not started here), with its data under a temporary directory."""
    base = _owned_dir("rabbitmq")
    machine = Machine.here()
    machine = Machine(env={**machine.env, **_rabbitmq_env(base)}, systemd=False, root=True)
    try:
        yield Private(
            url=f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}/", machine=machine, port=AMQP_PORT
        )
    finally:
        subprocess.run(["rabbitmqctl", "-n", NODE, "stop"], env=machine.env, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _stop_node(machine: Machine) -> None:
    run(machine, "rabbitmqctl", "-n", NODE, "stop")
    while answers("127.0.0.1", AMQP_PORT):  # `stop` returns once the node is gone
        time.sleep(0.2)


@pytest.fixture
def stopped_rabbitmq(private_rabbitmq: Private) -> Private:
    """The private node, stopped."""
    if answers("127.0.0.1", private_rabbitmq.port):
        _stop_node(private_rabbitmq.machine)
    return private_rabbitmq


@pytest.fixture
def running_rabbitmq(private_rabbitmq: Private) -> Private:
    """The private node, running (started here when a test before left it stopped)."""
    if not answers("127.0.0.1", private_rabbitmq.port):
        run(private_rabbitmq.machine, "rabbitmq-server", "-detached")
        pid_file = private_rabbitmq.machine.env["RABBITMQ_PID_FILE"]
        run(
            private_rabbitmq.machine, "rabbitmqctl", "-n", NODE, "wait", pid_file, "--timeout", "90"
        )
    return private_rabbitmq
