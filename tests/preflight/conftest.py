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
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from scripts.servers import Machine, answers, newest_postgres
from tests import rabbitmq_node
from tests.rabbitmq_node import RabbitNode, owned_dir, private_node

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
    base = owned_dir(f"preflight-{PORT_BASE}-", "postgres")
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


@pytest.fixture(scope="module")
def node() -> Iterator[RabbitNode]:
    """A node of its own (not started here), with its data under a temporary directory."""
    node = private_node(NODE, AMQP_PORT, owned_dir(f"preflight-{PORT_BASE}-", "rabbitmq"))
    try:
        yield node
    finally:
        rabbitmq_node.remove(node)


@pytest.fixture(scope="module")
def private_rabbitmq(node: RabbitNode) -> Private:
    """The node as the preflight sees it: its URL, and a machine whose env finds it."""
    machine = Machine(env=node.env, systemd=False, root=True)
    return Private(url=node.url, machine=machine, port=AMQP_PORT)


@pytest.fixture
def stopped_rabbitmq(private_rabbitmq: Private, node: RabbitNode) -> Private:
    """The private node, stopped."""
    if answers("127.0.0.1", node.amqp_port):
        rabbitmq_node.stop(node)
    return private_rabbitmq


@pytest.fixture
def running_rabbitmq(private_rabbitmq: Private, node: RabbitNode) -> Private:
    """The private node, running (started here when a test before left it stopped)."""
    if not answers("127.0.0.1", node.amqp_port):
        rabbitmq_node.start(node)
    return private_rabbitmq
