"""What PostgreSQL and RabbitMQ need on this machine before `make run`: look, then plan.

`inspect_postgres` / `inspect_rabbitmq` only look (binary present? cluster present? answering?
login accepted?); `plan_postgres` / `plan_rabbitmq` turn what they saw into the commands that
would install, start and set up a local server (Debian or Ubuntu: apt-get, pg_ctlcluster or
systemctl, `rabbitmq-server -detached`). A server at another host gets no plan: it is only
checked. `scripts.preflight` runs the plans, or prints them (`--dry-run`, `make doctor`).
"""

import asyncio
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import aio_pika
import psycopg2
from aiormq.exceptions import ProbableAuthenticationError
from sqlalchemy import make_url

LOCAL_HOSTS = frozenset({"", "127.0.0.1", "localhost", "::1"})
# Lines put first in pg_hba.conf, so the default URL's `postgres` role needs no password on TCP.
TRUST_LINES = ("host all postgres 127.0.0.1/32 trust", "host all postgres ::1/128 trust")
Login = Literal["ok", "refused", "unknown"]
Probe = Callable[[], Login]  # tries the URL's login, once the server answers


@dataclass(frozen=True)
class Machine:
    """Where commands run: the PATH they are looked up in, their environment, and who runs."""

    env: Mapping[str, str]
    systemd: bool  # systemd is the init system: start services with systemctl
    root: bool  # running as root: no sudo in front of the commands that need it

    @classmethod
    def here(cls) -> "Machine":
        """This machine, with the PATH also searching the sbin directories servers live in."""
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([env.get("PATH", ""), "/usr/local/sbin", "/usr/sbin"])
        return cls(env=env, systemd=Path("/run/systemd/system").is_dir(), root=os.geteuid() == 0)

    def has(self, binary: str) -> bool:
        """Whether `binary` is on the PATH."""
        return shutil.which(binary, path=self.env.get("PATH")) is not None

    def as_root(self, *argv: str) -> tuple[str, ...]:
        """The command, through sudo unless this is root."""
        return argv if self.root else ("sudo", *argv)


@dataclass(frozen=True)
class Step:
    """One thing to do: what the terminal says, then the command (none: wait for `port`)."""

    say: str
    argv: tuple[str, ...] = ()
    wait_for: tuple[str, int] | None = None


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL cluster as `pg_lsclusters` lists it."""

    version: str
    name: str
    port: int
    online: bool


@dataclass(frozen=True)
class Server:
    """What was seen of one server: where the URL points, whether it is installed and answers."""

    name: str
    host: str
    port: int
    installed: bool
    answering: bool
    login: Login  # "refused": the URL's default credentials were turned down
    clusters: tuple[Cluster, ...] = ()

    @property
    def local(self) -> bool:
        """Whether the URL points at this machine (only then is anything installed or started)."""
        return self.host in LOCAL_HOSTS


def answers(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        socket.create_connection((host or "127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def _clusters(machine: Machine) -> tuple[Cluster, ...]:
    if not machine.has("pg_lsclusters"):
        return ()
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], env=machine.env, capture_output=True, text=True
    )
    rows = (line.split() for line in listing.stdout.splitlines())
    return tuple(
        Cluster(version=row[0], name=row[1], port=int(row[2]), online=row[3].startswith("online"))
        for row in rows
        if len(row) >= 4 and row[2].isdigit()
    )


def _postgres_login(database_url: str) -> Login:
    url = make_url(database_url)
    if url.username != "postgres" or url.password:
        return "unknown"  # credentials of the user's own: never changed here
    try:
        psycopg2.connect(
            host=url.host,
            port=url.port or 5432,
            user="postgres",
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg2.OperationalError as error:
        return "refused" if "password" in str(error) else "unknown"
    return "ok"


def _look(name: str, host: str, port: int, binary: str, machine: Machine, login: Probe) -> Server:
    local = host in LOCAL_HOSTS
    up = answers(host, port)
    return Server(
        name=name,
        host=host,
        port=port,
        installed=local and machine.has(binary),
        answering=up,
        login=login() if up and local else "unknown",
    )


def inspect_postgres(database_url: str, machine: Machine) -> Server:
    """Look at the PostgreSQL server `database_url` names, changing nothing."""
    url = make_url(database_url)
    host, port = url.host or "", url.port or 5432
    server = _look(
        "PostgreSQL", host, port, "pg_ctlcluster", machine, lambda: _postgres_login(database_url)
    )
    return replace(server, clusters=_clusters(machine)) if server.local else server


async def _amqp_login(amqp_url: str) -> Login:
    try:
        connection = await aio_pika.connect(amqp_url, timeout=5)
    except ProbableAuthenticationError:
        return "refused"
    except (TimeoutError, OSError, aio_pika.exceptions.AMQPError):
        return "unknown"
    await connection.close()
    return "ok"


def inspect_rabbitmq(amqp_url: str, machine: Machine) -> Server:
    """Look at the RabbitMQ broker `amqp_url` names, changing nothing."""
    parts = urlsplit(amqp_url)
    guest = parts.username == "guest" and parts.password == "guest"
    return _look(
        "RabbitMQ",
        parts.hostname or "",
        parts.port or 5672,
        "rabbitmq-server",
        machine,
        lambda: asyncio.run(_amqp_login(amqp_url)) if guest else "unknown",
    )


def _install(machine: Machine, package: str, then: str) -> list[Step]:
    return [
        Step(
            f"{package} is missing: installing it with apt-get",
            machine.as_root("apt-get", "update", "-qq"),
        ),
        Step(
            f"apt-get install {package}",
            machine.as_root(
                "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", package
            ),
        ),
        Step(f"then: {then}"),
    ]


def newest_postgres(lib: Path = Path("/usr/lib/postgresql")) -> str:
    versions = [p.name for p in lib.glob("*") if (p / "bin" / "postgres").exists()]
    return max(versions, key=lambda version: tuple(map(int, version.split("."))), default="")


def _control(cluster: Cluster, action: str, machine: Machine) -> tuple[str, ...]:
    """`action` (start, reload) on one cluster: through systemd where it runs."""
    if machine.systemd:
        unit = f"postgresql@{cluster.version}-{cluster.name}"
        return machine.as_root("systemctl", action, unit)
    return machine.as_root(
        "pg_ctlcluster", "--skip-systemctl-redirect", cluster.version, cluster.name, action
    )


def _start_postgres(server: Server, machine: Machine) -> list[Step]:
    wait = Step(f"waiting for PostgreSQL at {server.host}:{server.port}", wait_for=_at(server))
    cluster = next((c for c in server.clusters if c.port == server.port), None)
    if cluster is None:
        if server.clusters:
            return []  # clusters on other ports only: which one to move is the user's call
        version = newest_postgres()
        create = ("pg_createcluster", "--start", "-p", str(server.port), version, "main")
        return [
            Step(f"PostgreSQL has no cluster: creating {version}/main", machine.as_root(*create)),
            wait,
        ]
    name = f"{cluster.version}/{cluster.name}"
    start = _control(cluster, "start", machine)
    return [Step(f"PostgreSQL {name} is stopped: starting it", start), wait]


def _trust_postgres(server: Server, machine: Machine) -> list[Step]:
    cluster = next((c for c in server.clusters if c.port == server.port), None)
    if cluster is None:
        return []
    root = Path(machine.env.get("PG_CLUSTER_CONF_ROOT") or "/etc/postgresql")
    hba = root / cluster.version / cluster.name / "pg_hba.conf"
    insert = [arg for line in reversed(TRUST_LINES) for arg in ("-e", f"1i {line}")]
    return [
        Step(
            f"PostgreSQL asks the postgres role for a password over TCP: letting it in from "
            f"this machine only ({hba})",
            machine.as_root("sed", "-i", *insert, str(hba)),
        ),
        Step(
            f"reloading PostgreSQL {cluster.version}/{cluster.name}",
            _control(cluster, "reload", machine),
        ),
    ]


def _at(server: Server) -> tuple[str, int]:
    return (server.host or "127.0.0.1", server.port)


def plan_postgres(server: Server, machine: Machine) -> list[Step]:
    """What would make the local PostgreSQL answer the default URL; [] when nothing (or remote)."""
    if not server.local:
        return []
    if server.answering:
        return _trust_postgres(server, machine) if server.login == "refused" else []
    if not server.installed:
        then = "start its cluster, wait until it answers, let the postgres role in over TCP"
        return _install(machine, "postgresql", then)
    return _start_postgres(server, machine)


def plan_rabbitmq(server: Server, machine: Machine) -> list[Step]:
    """What would make the local RabbitMQ answer the default URL; [] when nothing (or remote)."""
    if not server.local:
        return []
    if server.answering:
        if server.login != "refused":
            return []
        return [
            Step(
                "RabbitMQ turns down guest/guest: adding the guest user",
                machine.as_root("rabbitmqctl", "add_user", "guest", "guest"),
            ),
            Step(
                "giving guest the default virtual host",
                machine.as_root(
                    "rabbitmqctl", "set_permissions", "-p", "/", "guest", ".*", ".*", ".*"
                ),
            ),
        ]
    if not server.installed:
        return _install(machine, "rabbitmq-server", "start it and wait until it answers")
    if machine.systemd:
        start: tuple[str, ...] = ("systemctl", "start", "rabbitmq-server")
    else:
        start = ("rabbitmq-server", "-detached")
    return [
        Step("RabbitMQ is stopped: starting it", machine.as_root(*start)),
        Step(
            f"waiting for RabbitMQ at {server.host or '127.0.0.1'}:{server.port}",
            wait_for=_at(server),
        ),
    ]
