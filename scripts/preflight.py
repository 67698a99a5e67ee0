"""Before `make run` and `make test`: make PostgreSQL and RabbitMQ answer, create the database.

A server the URL puts on this machine is installed (apt-get), started (pg_ctlcluster,
`rabbitmq-server -detached` or systemctl) and set up for the default URLs when it needs to be,
each step said on the terminal (`scripts.servers` decides which). A server at another host is
only checked: when it does not answer, the preflight says so and how to start it, instead of a
traceback. `--dry-run` (or PREFLIGHT_DRY_RUN=1; `make doctor`) reports what is present and what
runs, and prints the commands it would run without running them.
"""

import argparse
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from scripts.servers import (
    Machine,
    Server,
    Step,
    answers,
    inspect_postgres,
    inspect_rabbitmq,
    plan_postgres,
    plan_rabbitmq,
)
from shared.core.settings import ServiceSettings

POSTGRES_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
RABBITMQ_HINT = "rabbitmq-server -detached"
WAIT_SECONDS = 90  # a first RabbitMQ boot takes ~10 s on an idle machine, more on a busy one


class PreflightError(RuntimeError):
    """A server could not be made to answer; the message says what to do."""


def _fail(what: str, where: str, hint: str) -> None:
    print(f"{what} is not reachable at {where}.\nStart it with:  {hint}", file=sys.stderr)
    sys.exit(1)


def create_database_if_missing(database_url: str) -> bool:
    """Create the database `database_url` names unless it exists; True when it was created."""
    url = make_url(database_url)
    admin = create_engine(
        url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()
    return not exists


def check_postgres(database_url: str) -> None:
    """Connect to the server and create the service database when it does not exist."""
    try:
        if create_database_if_missing(database_url):
            print(f"created database {make_url(database_url).database}")
    except OperationalError as error:
        url = make_url(database_url)
        where = f"{url.host}:{url.port or 5432}"
        if "password" in str(error.orig):
            print(
                f"PostgreSQL at {where} refuses {url.username}'s login.\n"
                "Put the role's password in DATABASE_URL (in the environment or .env).",
                file=sys.stderr,
            )
            sys.exit(1)
        _fail("PostgreSQL", where, POSTGRES_HINT)


def check_rabbitmq(amqp_url: str) -> None:
    """Open a TCP connection to the broker."""
    parts = urlsplit(amqp_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError:
        _fail("RabbitMQ", f"{host}:{port}", RABBITMQ_HINT)


def describe(server: Server) -> str:
    """One line: where the server is, whether it is installed here, whether it answers."""
    where = f"{server.name} at {server.host or 'localhost'}:{server.port}"
    if not server.local:
        answering = "answers" if server.answering else "does not answer"
        return f"{where}: another host, only checked; {answering}"
    installed = "installed" if server.installed else "not installed"
    clusters = ", ".join(
        f"{c.version}/{c.name} on {c.port} {'online' if c.online else 'down'}"
        for c in server.clusters
    )
    login = {"ok": "; the default login works", "refused": "; the default login is refused"}
    return (
        f"{where}: {installed}{f' (clusters: {clusters})' if clusters else ''}; "
        f"{'answers' if server.answering else 'does not answer'}{login.get(server.login, '')}"
    )


def show(steps: list[Step]) -> str:
    """The steps as `make doctor` prints them: what `make run` would do, command by command."""
    if not steps:
        return "  make run would do nothing here"
    lines = []
    for step in steps:
        command = f": {shlex.join(step.argv)}" if step.argv else ""
        lines.append(f"  make run would: {step.say}{command}")
    return "\n".join(lines)


def _wait(host: str, port: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not answers(host, port):
        if time.monotonic() > deadline:
            raise PreflightError(f"nothing answers at {host}:{port} after {WAIT_SECONDS} s")
        time.sleep(0.5)


def run(steps: list[Step], machine: Machine) -> None:
    """Run the steps in order, saying each; stop at the first command that fails."""
    for step in steps:
        print(f"{step.say}{f':  {shlex.join(step.argv)}' if step.argv else ''}", flush=True)
        if step.wait_for is not None:
            _wait(*step.wait_for)
        elif step.argv:
            done = subprocess.run(step.argv, env=machine.env, stdin=subprocess.DEVNULL)
            if done.returncode != 0:
                raise PreflightError(f"`{' '.join(step.argv)}` failed (exit {done.returncode})")


Inspect = Callable[[str, Machine], Server]
Plan = Callable[[Server, Machine], list[Step]]


def bring_up(url: str, machine: Machine, inspect: Inspect, plan: Plan) -> Server:
    """Install, start and set up the server until its plan is empty (an install comes first)."""
    server = inspect(url, machine)
    for _ in range(4):  # at most: install, start, set up
        steps = plan(server, machine)
        if not steps:
            break
        run(steps, machine)
        server = inspect(url, machine)
    return server


def doctor(database_url: str, amqp_url: str, machine: Machine) -> None:
    """Print what is present, what runs, and what `make run` would do, changing nothing."""
    for url, inspect, plan in (
        (database_url, inspect_postgres, plan_postgres),
        (amqp_url, inspect_rabbitmq, plan_rabbitmq),
    ):
        server = inspect(url, machine)
        print(describe(server))
        print(show(plan(server, machine)))


def main(argv: list[str] | None = None) -> None:
    """`python -m scripts.preflight [--dry-run]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="only report and print commands")
    args = parser.parse_args(argv)
    settings = ServiceSettings()
    machine = Machine.here()
    if args.dry_run or os.environ.get("PREFLIGHT_DRY_RUN") == "1":
        doctor(settings.database_url, settings.amqp_url, machine)
        return
    try:
        bring_up(settings.database_url, machine, inspect_postgres, plan_postgres)
        bring_up(settings.amqp_url, machine, inspect_rabbitmq, plan_rabbitmq)
    except PreflightError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    check_postgres(settings.database_url)
    check_rabbitmq(settings.amqp_url)
    print("PostgreSQL and RabbitMQ are reachable.")


if __name__ == "__main__":
    main()
