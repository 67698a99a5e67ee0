"""docker-compose.yml, checked statically (no Docker engine here)."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.settings_vars import (
    OWN_DEFAULTS,
    SERVICE_VARS,
    consumers_with_own_defaults,
    env_example_names,
    same_setting,
)

ROOT = Path(__file__).parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
CONTAINERS = {
    "auth": ["auth", "auth-relay", "auth-migrate"],
    "tasks": ["tasks", "relay", "tasks-consumer", "tasks-migrate"],
    "logs": ["logs", "logs-consumer", "logs-migrate"],
    "kpi": ["kpi", "kpi-consumer", "kpi-migrate"],
    "hooks": ["hooks", "hooks-consumer", "hooks-dispatcher", "hooks-migrate"],
}


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("service", "container"), [(s, c) for s, names in CONTAINERS.items() for c in names]
)
def test_every_setting_a_service_reads_is_configured(service: str, container: str) -> None:
    environment = SERVICES[container]["environment"]

    assert SERVICE_VARS[service] <= set(environment), SERVICE_VARS[service] - set(environment)


@pytest.mark.parametrize(("service", "container"), consumers_with_own_defaults(CONTAINERS))
def test_a_consumer_keeps_the_settings_its_service_defaults_otherwise(
    service: str, container: str
) -> None:
    """The shared block gives every service the common value: the service must win."""
    environment = SERVICES[container]["environment"]
    for name, default in OWN_DEFAULTS[service].items():
        assert same_setting(environment[name], default), (name, environment[name])


def test_every_setting_is_in_env_example() -> None:
    every = set().union(*SERVICE_VARS.values())

    assert every <= env_example_names(), every - env_example_names()


def test_each_service_connects_as_its_own_role() -> None:
    for service, names in CONTAINERS.items():
        for name in names:
            url = SERVICES[name]["environment"]["DATABASE_URL"]
            assert url.startswith(f"postgresql+psycopg2://{service}_svc:"), name


def test_no_secret_is_written_in_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in (
        "POSTGRES_PASSWORD",
        "RABBITMQ_PASSWORD",
        "AUTH_DB_PASSWORD",
        "TASKS_DB_PASSWORD",
        "LOGS_DB_PASSWORD",
        "KPI_DB_PASSWORD",
        "HOOKS_DB_PASSWORD",
        "JWT_SIGNING_KEY_PATH",
    ):
        assert f"${{{variable}:?" in text, f"{variable} must come from the environment"
    assert "BEGIN PRIVATE KEY" not in text


def test_start_up_order_waits_for_health_and_migrations() -> None:
    for name, container in SERVICES.items():
        for dependency, rule in (container.get("depends_on") or {}).items():
            expected = (
                "service_completed_successfully"
                if dependency.endswith(("-migrate", "db-bootstrap"))
                else "service_healthy"
            )
            assert rule["condition"] == expected, (name, dependency)
    for service in CONTAINERS:
        assert "db-bootstrap" in SERVICES[f"{service}-migrate"]["depends_on"]
        assert f"{service}-migrate" in SERVICES[service]["depends_on"]


def test_scalable_parts_pin_no_name_or_host_port() -> None:
    for name in (
        "auth",
        "auth-relay",
        "tasks",
        "relay",
        "tasks-consumer",
        "logs",
        "logs-consumer",
        "kpi",
        "kpi-consumer",
        "hooks",
        "hooks-consumer",
        "hooks-dispatcher",
    ):
        assert "container_name" not in SERVICES[name]
        assert "ports" not in SERVICES[name]


def test_processes_without_http_have_a_heartbeat_healthcheck() -> None:
    for name in (
        "relay",
        "auth-relay",
        "tasks-consumer",
        "logs-consumer",
        "kpi-consumer",
        "hooks-consumer",
        "hooks-dispatcher",
    ):
        assert SERVICES[name]["healthcheck"]["test"][:4] == [
            "CMD",
            "python",
            "-m",
            "shared.messaging.heartbeat",
        ]
        assert SERVICES[name]["environment"]["HEARTBEAT_FILE"] == "/tmp/heartbeat"


def test_only_the_gateway_can_name_a_client_address_to_auth() -> None:
    """Auth believes X-Forwarded-For only with the gateway's secret, not from any container."""
    for name in ("auth", "gateway"):
        secret = SERVICES[name]["environment"]["GATEWAY_SECRET"]
        assert secret.startswith("${GATEWAY_SECRET:?"), name
    for name, container in SERVICES.items():
        assert "FORWARDED_ALLOW_IPS" not in (container.get("environment") or {}), name
