"""The preflight's decisions on a private cluster and node: missing, stopped, refused, remote."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import make_url

from scripts.preflight import bring_up, check_postgres, doctor
from scripts.servers import (
    Cluster,
    Machine,
    Server,
    answers,
    inspect_postgres,
    inspect_rabbitmq,
    plan_postgres,
    plan_rabbitmq,
)
from tests.preflight.conftest import NODE, Private, run

ROOT = Path(__file__).parents[2]


def _connect(url: str) -> None:
    parsed = make_url(url)
    psycopg2.connect(host=parsed.host, port=parsed.port, user="postgres", dbname="postgres").close()


def test_a_stopped_cluster_is_started_and_lets_postgres_in_over_tcp(
    stopped_postgres: Private, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = stopped_postgres.machine
    doctor(stopped_postgres.url, "amqp://guest:guest@127.0.0.2:1/", machine)
    report = capsys.readouterr().out
    assert f"on {stopped_postgres.port} down" in report
    assert "pg_ctlcluster --skip-systemctl-redirect" in report
    assert not answers("127.0.0.1", stopped_postgres.port)  # the dry run started nothing

    server = bring_up(stopped_postgres.url, machine, inspect_postgres, plan_postgres)

    said = capsys.readouterr().out
    assert "is stopped: starting it" in said
    assert "asks the postgres role for a password over TCP" in said  # a new cluster's default
    assert server.answering
    assert server.login == "ok"
    _connect(stopped_postgres.url)  # what the services' default URL needs
    assert plan_postgres(inspect_postgres(stopped_postgres.url, machine), machine) == []


def test_a_refused_password_is_named_not_called_unreachable(
    running_postgres: Private, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql+psycopg2://someone:wrong@127.0.0.1:{running_postgres.port}/x"

    with pytest.raises(SystemExit) as exit_:
        check_postgres(url)

    assert exit_.value.code == 1
    assert f"PostgreSQL at 127.0.0.1:{running_postgres.port} refuses someone's login" in (
        capsys.readouterr().err
    )


def test_a_missing_postgresql_is_installed_with_apt_get(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = Machine(env={"PATH": str(tmp_path)}, systemd=False, root=False)
    url = "postgresql+psycopg2://postgres@127.0.0.1:1/efficient"  # nothing listens on port 1

    doctor(url, "amqp://guest:guest@127.0.0.1:1/", machine)

    report = capsys.readouterr().out
    assert "PostgreSQL at 127.0.0.1:1: not installed; does not answer" in report
    assert "RabbitMQ at 127.0.0.1:1: not installed; does not answer" in report
    install = "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq"
    assert f"{install} postgresql" in report
    assert f"{install} rabbitmq-server" in report
    assert "sudo apt-get update -qq" in report


def test_a_stopped_node_is_started(
    stopped_rabbitmq: Private, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = stopped_rabbitmq.machine
    doctor("postgresql+psycopg2://postgres@127.0.0.2:1/x", stopped_rabbitmq.url, machine)
    assert "make run would: RabbitMQ is stopped: starting it: rabbitmq-server -detached" in (
        capsys.readouterr().out
    )
    assert not answers("127.0.0.1", stopped_rabbitmq.port)

    server = bring_up(stopped_rabbitmq.url, machine, inspect_rabbitmq, plan_rabbitmq)

    assert "RabbitMQ is stopped: starting it" in capsys.readouterr().out
    assert server.answering
    assert server.login == "ok"  # a new node's guest/guest, on loopback


def test_a_node_without_guest_gets_it_back(
    running_rabbitmq: Private, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = running_rabbitmq.machine
    run(machine, "rabbitmqctl", "-n", NODE, "delete_user", "guest")
    assert inspect_rabbitmq(running_rabbitmq.url, machine).login == "refused"

    server = bring_up(running_rabbitmq.url, machine, inspect_rabbitmq, plan_rabbitmq)

    assert "RabbitMQ turns down guest/guest: adding the guest user" in capsys.readouterr().out
    assert server.login == "ok"


def test_servers_at_another_host_are_only_checked(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": str(tmp_path),  # no server binary: a local URL would plan an install
        "DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.2:1/efficient",
        "AMQP_URL": "amqp://guest:guest@127.0.0.2:1/",
    }
    doctor = subprocess.run(
        [sys.executable, "-m", "scripts.preflight", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "PostgreSQL at 127.0.0.2:1: another host, only checked; does not answer" in doctor.stdout
    assert "apt-get" not in doctor.stdout

    preflight = subprocess.run(
        [sys.executable, "-m", "scripts.preflight"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert preflight.returncode == 1
    assert preflight.stdout == ""  # nothing installed or started
    assert "PostgreSQL is not reachable at 127.0.0.2:1.\nStart it with:" in preflight.stderr


def test_with_systemd_servers_are_started_by_systemctl() -> None:
    machine = Machine(env={"PATH": "/usr/bin:/usr/sbin"}, systemd=True, root=True)
    cluster = Cluster(version="15", name="main", port=5432, online=False)
    postgres = Server(
        name="PostgreSQL",
        host="127.0.0.1",
        port=5432,
        installed=True,
        answering=False,
        login="unknown",
        clusters=(cluster,),
    )
    rabbitmq = replace(postgres, name="RabbitMQ", port=5672, clusters=())

    assert plan_postgres(postgres, machine)[0].argv == ("systemctl", "start", "postgresql@15-main")
    assert plan_rabbitmq(rabbitmq, machine)[0].argv == ("systemctl", "start", "rabbitmq-server")
