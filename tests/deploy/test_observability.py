"""Prometheus's alert rules and configurations, and the Grafana dashboard, checked statically."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import prometheus_config
from tests.deploy.metric_names import exported, used_in

ROOT = Path(__file__).parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "efficient-system.json").read_text())
ALERTS = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"  # `make prometheus` installs it


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False)


def _alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in ALERTS["groups"] for rule in group["rules"]}


def _procfile_metrics_ports() -> dict[str, int]:
    """Each Procfile process that serves metrics: the default port the Procfile gives it."""
    ports = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if command.strip().startswith("METRICS_PORT="):
            ports[name] = int(command.split(":-", 1)[1].split("}", 1)[0])
    return ports


def test_the_alert_rules_are_valid() -> None:
    result = promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", str(PROMETHEUS / "alerts.test.yml"))

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_issue_s_alerts_exist_and_read_only_exported_metrics() -> None:
    alerts = _alerts()

    assert set(alerts) == {
        "OutboxNotDraining",
        "DeadLetters",
        "ConsumerLagHigh",
        "HighServerErrorRatio",
        "TargetDown",
        "WebhookBacklogGrowing",
        "WebhookEndpointDisabled",
    }
    for name, rule in alerts.items():
        assert used_in(rule["expr"]), name
        assert used_in(rule["expr"]) <= exported(), (name, used_in(rule["expr"]) - exported())
        assert rule["labels"]["severity"] in {"warning", "critical"}, name


def test_make_run_s_prometheus_scrapes_every_process_of_the_procfile(tmp_path: Path) -> None:
    prometheus_config.main(tmp_path)
    rendered = yaml.safe_load((tmp_path / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in rendered["scrape_configs"]
    }
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))

    assert result.returncode == 0, result.stdout + result.stderr
    procfile = _procfile_metrics_ports()
    assert len(procfile) == 12  # five APIs, two relays, four consumers, one dispatcher
    scraped = sorted(int(target.rsplit(":", 1)[1]) for job in targets.values() for target in job)
    assert scraped == sorted([*procfile.values(), 9090])


def test_the_compose_prometheus_scrapes_every_process_container() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.compose.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    processes = {
        name
        for name, service in compose.items()
        if "METRICS_PORT" in (service.get("environment") or {}) and not name.endswith("-migrate")
    }
    scraped = {
        (lookup, sd["port"])
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for lookup in sd["names"]
    }
    result = promtool(
        "check", "config", "--syntax-only", str(PROMETHEUS / "prometheus.compose.yml")
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(processes) == 12
    assert scraped == {
        (name, int(compose[name]["environment"]["METRICS_PORT"])) for name in processes
    }
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def _queries() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel.get("targets", [])]


def test_the_dashboard_reads_only_metrics_that_exist() -> None:
    used = set().union(*(used_in(query) for query in _queries()))

    assert used <= exported(), used - exported()
    for required in (
        "http_server_request_duration_seconds_count",  # RED per route
        "http_server_request_duration_seconds_bucket",
        "efficient_outbox_unpublished_events",
        "efficient_outbox_oldest_unpublished_age_seconds",
        "efficient_consumer_events_total",
        "efficient_consumer_lag_seconds_bucket",
        "efficient_consumer_dead_letters",
    ):
        assert required in used, required


def test_the_dashboard_uses_the_provisioned_data_source() -> None:
    datasources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    [uid] = [source["uid"] for source in datasources]
    panels = [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]

    assert DASHBOARD["uid"] == "efficient-system"
    assert all(panel["datasource"]["uid"] == uid for panel in panels)
    route_panels = [
        p for p in panels if any("by (job, http_route" in q["expr"] for q in p["targets"])
    ]
    assert len(route_panels) == 3  # rate, errors, duration: by route


@pytest.mark.parametrize("service", ["prometheus", "grafana"])
def test_the_observability_profile_mounts_files_that_exist(service: str) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]

    assert compose[service]["profiles"] == ["observability"]
    for volume in compose[service]["volumes"]:
        source = volume.split(":", 1)[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), source
    assert compose[service]["ports"][0].startswith("127.0.0.1:")
