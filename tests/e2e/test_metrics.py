"""`make run`'s metrics: every process serves its own, and its Prometheus scrapes them all."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import METRICS_PORTS, PROMETHEUS, System
from tests.e2e.test_system import eventually, new_user

# What each process's /metrics must show, beside the process metrics.
EXPECTED = {
    "AUTH_METRICS_PORT": "http_server_request_duration_seconds",
    "TASKS_METRICS_PORT": "http_server_request_duration_seconds",
    "LOGS_METRICS_PORT": "http_server_request_duration_seconds",
    "KPI_METRICS_PORT": "http_server_request_duration_seconds",
    "AUTH_RELAY_METRICS_PORT": "efficient_outbox_oldest_unpublished_age_seconds",
    "TASKS_RELAY_METRICS_PORT": "efficient_outbox_unpublished_events",
    "TASKS_CONSUMER_METRICS_PORT": "efficient_consumer_dead_letters",
    "LOGS_CONSUMER_METRICS_PORT": "efficient_consumer_dead_letters",
    "KPI_CONSUMER_METRICS_PORT": "efficient_consumer_dead_letters",
}


def families(port: str) -> dict[str, Any]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {family.name: family for family in text_string_to_metric_families(text)}


@pytest.mark.parametrize("variable", list(EXPECTED))
def test_each_process_serves_its_metrics_on_its_own_port(
    system: System, api: httpx.Client, variable: str
) -> None:
    port = METRICS_PORTS[variable]

    def has_samples() -> bool:
        found = families(port)
        return bool(found.get(EXPECTED[variable]) and found[EXPECTED[variable]].samples)

    eventually(has_samples)
    found = families(port)
    assert {"process_cpu_seconds", "db_client_connection_count"} <= set(found)
    assert api.get("/metrics").status_code == 404  # the gateway routes none


def query(expression: str) -> list[dict[str, Any]]:
    """The result of an instant query of `make run`'s Prometheus."""
    answer = httpx.get(f"{PROMETHEUS}/api/v1/query", params={"query": expression}, timeout=5)
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def test_prometheus_scrapes_every_process_and_they_are_all_up(system: System) -> None:
    def all_up() -> list[dict[str, Any]] | None:
        try:
            targets = httpx.get(f"{PROMETHEUS}/api/v1/targets", timeout=5).json()
        except httpx.HTTPError:
            return None  # Prometheus starting
        active = targets["data"]["activeTargets"]
        up = len(active) == len(METRICS_PORTS) and all(t["health"] == "up" for t in active)
        return active if up else None

    active = eventually(all_up, within=60)

    jobs = {target["labels"]["job"] for target in active}
    assert jobs == {
        "auth", "tasks", "logs", "kpi", "auth-relay", "tasks-relay",
        "tasks-consumer", "logs-consumer", "kpi-consumer", "prometheus",
        "hooks", "hooks-consumer", "hooks-dispatcher",
    }  # fmt: skip
    assert {sample["metric"]["job"] for sample in query("up == 1")} == jobs


def counted(expression: str) -> Callable[[], list[dict[str, Any]]]:
    """A check that Prometheus has a sample for `expression`."""
    return lambda: query(expression)


def test_a_task_write_shows_in_prometheus_from_request_to_both_consumers(
    system: System, api: httpx.Client
) -> None:
    _, headers = new_user(api)
    created = api.post("/tasks/", json={"title": "watched"}, headers=headers)
    assert created.status_code == 201
    task_id = created.json()["id"]
    assert api.get(f"/tasks/{task_id}", headers=headers).status_code == 200

    route = (
        '{http_route="/tasks/{task_id}",http_request_method="GET",http_response_status_code="200"}'
    )
    eventually(counted(f"http_server_request_duration_seconds_count{route}"), within=30)
    eventually(counted('efficient_events_published_total{exchange="tasks.events"} > 0'), within=30)
    for queue in ("logs.task-events", "kpi.task-events"):
        applied = f'efficient_consumer_events_total{{queue="{queue}",outcome="applied"}} > 0'
        eventually(counted(applied), within=30)
    raw = f'http_server_request_duration_seconds_count{{http_route="/tasks/{task_id}"}}'
    assert query(raw) == []  # the route template, never the raw path
