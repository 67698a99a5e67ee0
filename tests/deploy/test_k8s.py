"""The Kubernetes manifests, checked statically (no cluster here)."""

import re
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
    same_setting,
)

ROOT = Path(__file__).parents[2]
K8S = ROOT / "k8s"
BIN = Path(sys.executable).parent
MANIFESTS = sorted(K8S.glob("*.yaml"))
EXAMPLES = sorted((K8S / "examples").glob("*.yaml"))


def _objects(paths: list[Path]) -> list[dict[str, Any]]:
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


OBJECTS = _objects(MANIFESTS)
SECRETS = {doc["metadata"]["name"]: doc for doc in _objects(EXAMPLES) if doc["kind"] == "Secret"}
CONFIG_MAPS = {doc["metadata"]["name"]: doc for doc in OBJECTS if doc["kind"] == "ConfigMap"}
WORKLOADS = {
    doc["metadata"]["name"]: doc for doc in OBJECTS if doc["kind"] in {"Deployment", "Job"}
}
# The workloads of each service's code, and what each may leave out on purpose.
SERVICE_WORKLOADS = {
    "auth": ["auth", "auth-relay", "auth-migrate"],
    "tasks": ["tasks", "tasks-relay", "tasks-consumer", "tasks-migrate"],
    "logs": ["logs", "logs-consumer", "logs-migrate"],
    "kpi": ["kpi", "kpi-consumer", "kpi-migrate"],
    "hooks": ["hooks", "hooks-consumer", "hooks-dispatcher", "hooks-migrate"],
}
ADMIN = {"ADMIN_USERNAME", "ADMIN_EMAIL", "ADMIN_PASSWORD"}
NOT_NEEDED = {
    # The APIs never talk to RabbitMQ, and the auth migration only touches the database (the
    # tasks, logs, kpi and hooks ones also declare their consumers' queues); nor does the
    # hooks dispatcher (it reads deliveries from PostgreSQL).
    **{
        name: {"AMQP_URL"} for name in ("auth", "tasks", "logs", "kpi", "hooks", "hooks-dispatcher")
    },
    # Only the auth API serves requests: its relay and migration never see the gateway's secret.
    "auth-migrate": {"AMQP_URL", "GATEWAY_SECRET"},
    "auth-relay": {"GATEWAY_SECRET"},
}


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)


def test_every_manifest_is_valid_kubernetes() -> None:
    files = [str(path) for path in MANIFESTS + EXAMPLES]

    result = _run(str(BIN / "kubernetes-validate"), "--strict", "--quiet", *files)

    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_no_failure() -> None:
    result = _run(
        str(BIN / "checkov"),
        "-d",
        str(K8S),
        "--framework",
        "kubernetes",
        "--quiet",
        "--compact",
        "--skip-download",
    )

    assert result.returncode == 0, result.stdout[-4000:]


def test_every_checkov_skip_is_explained_in_the_readme() -> None:
    readme = (K8S / "README.md").read_text()
    skipped = set(
        re.findall(
            r"checkov\.io/skip\d+: (CKV_K8S_\d+)=", "".join(path.read_text() for path in MANIFESTS)
        )
    )

    assert skipped
    assert all(f"`{check}`" in readme for check in skipped), skipped


def _environment(workload: dict[str, Any]) -> set[str]:
    """Every variable the workload's main container gets, by name or through envFrom."""
    container = workload["spec"]["template"]["spec"]["containers"][0]
    names = {item["name"] for item in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(CONFIG_MAPS[source["configMapRef"]["name"]]["data"])
        if "secretRef" in source:
            names |= set(SECRETS[source["secretRef"]["name"]].get("stringData", {}))
    return names


@pytest.mark.parametrize(
    ("service", "workload"), [(s, w) for s, names in SERVICE_WORKLOADS.items() for w in names]
)
def test_every_setting_a_service_reads_is_configured(service: str, workload: str) -> None:
    expected = SERVICE_VARS[service] - NOT_NEEDED.get(workload, set())
    if workload != "auth-migrate":
        expected -= ADMIN  # only the migration step creates the admin

    missing = expected - _environment(WORKLOADS[workload])

    assert not missing, missing


def _value(workload: dict[str, Any], name: str) -> str:
    """The value the workload's main container gets for `name`: its own, else its ConfigMaps'."""
    container = workload["spec"]["template"]["spec"]["containers"][0]
    for item in container.get("env", []):
        if item["name"] == name:
            return str(item["value"])
    for source in container.get("envFrom", []):
        data = (
            CONFIG_MAPS[source["configMapRef"]["name"]]["data"] if "configMapRef" in source else {}
        )
        if name in data:
            return str(data[name])
    raise KeyError(name)


@pytest.mark.parametrize(("service", "workload"), consumers_with_own_defaults(SERVICE_WORKLOADS))
def test_a_consumer_keeps_the_settings_its_service_defaults_otherwise(
    service: str, workload: str
) -> None:
    """The shared ConfigMap gives every service the common value: the service must win."""
    for name, default in OWN_DEFAULTS[service].items():
        value = _value(WORKLOADS[workload], name)
        assert same_setting(value, default), (name, value)


@pytest.mark.parametrize("service", list(SERVICE_WORKLOADS))
def test_each_service_reads_its_database_url_from_its_own_secret(service: str) -> None:
    for name in SERVICE_WORKLOADS[service]:
        container = WORKLOADS[name]["spec"]["template"]["spec"]["containers"][0]
        [url] = [item for item in container["env"] if item["name"] == "DATABASE_URL"]
        assert url["valueFrom"]["secretKeyRef"]["name"] == f"{service}-secrets", name
    example = SECRETS[f"{service}-secrets"]["stringData"]["DATABASE_URL"]
    assert f"//{service}_svc:" in example


def test_no_secret_value_is_in_a_config_map() -> None:
    credentials_in_url = re.compile(r"://[^/@\s]+:[^/@\s]+@")
    settings = [cm for name, cm in CONFIG_MAPS.items() if name != "db-bootstrap"]  # not a script
    for config_map in settings:
        for key, value in config_map["data"].items():
            assert not re.search(r"(PASSWORD|SECRET|PRIVATE_KEY)$", key), key
            assert not credentials_in_url.search(value), key


def test_the_bootstrap_job_runs_the_script_of_deploy() -> None:
    script = CONFIG_MAPS["db-bootstrap"]["data"]["bootstrap.sh"]

    assert script == (ROOT / "deploy" / "db-bootstrap.sh").read_text()


def test_every_pod_is_locked_down() -> None:
    for name, workload in WORKLOADS.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert {"requests", "limits"} <= set(container["resources"]), name


def test_every_long_running_process_has_probes_and_an_autoscaler() -> None:
    scaled = {
        doc["spec"]["scaleTargetRef"]["name"]
        for doc in OBJECTS
        if doc["kind"] == "HorizontalPodAutoscaler"
    }
    for name, workload in WORKLOADS.items():
        if workload["kind"] != "Deployment":
            continue
        container = workload["spec"]["template"]["spec"]["containers"][0]
        assert {"livenessProbe", "readinessProbe", "startupProbe"} <= set(container), name
        if name not in {"tasks-relay", "auth-relay"}:  # one relay suffices; more may run
            assert name in scaled, name


def test_every_process_pod_is_scraped_on_its_metrics_port() -> None:
    port = CONFIG_MAPS["efficient-config"]["data"]["METRICS_PORT"]
    processes = {
        name: workload
        for name, workload in WORKLOADS.items()
        if workload["kind"] == "Deployment" and name != "gateway"
    }
    [policy] = [
        doc
        for doc in OBJECTS
        if doc["kind"] == "NetworkPolicy" and doc["metadata"]["name"] == "metrics-from-monitoring"
    ]

    assert len(processes) == 12  # five APIs, two relays, four consumers, one dispatcher
    for name, workload in processes.items():
        template = workload["spec"]["template"]
        assert template["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": port,
            "prometheus.io/path": "/metrics",
        }, name
        ports = template["spec"]["containers"][0]["ports"]
        assert {"name": "metrics", "containerPort": int(port), "protocol": "TCP"} in ports, name
    [selector] = policy["spec"]["podSelector"]["matchExpressions"]
    assert set(selector["values"]) == {"api", "relay", "consumer", "dispatcher"}
    [rule] = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": int(port)}]


def test_only_the_gateway_can_name_a_client_address_to_auth() -> None:
    """Auth believes X-Forwarded-For only with the gateway's secret, not from pod addresses."""
    assert all("FORWARDED_ALLOW_IPS" not in cm["data"] for cm in CONFIG_MAPS.values())
    for name in ("auth", "gateway"):
        container = WORKLOADS[name]["spec"]["template"]["spec"]["containers"][0]
        [secret] = [item for item in container["env"] if item["name"] == "GATEWAY_SECRET"]
        reference = secret["valueFrom"]["secretKeyRef"]
        assert reference == {"name": "gateway-secret", "key": "GATEWAY_SECRET"}, name
    assert "GATEWAY_SECRET" in SECRETS["gateway-secret"]["stringData"]


CRON_JOBS = {doc["metadata"]["name"]: doc for doc in OBJECTS if doc["kind"] == "CronJob"}


@pytest.mark.parametrize("service", sorted(SERVICE_WORKLOADS))
def test_each_service_trims_its_tables_on_a_schedule_one_run_at_a_time(service: str) -> None:
    cron = CRON_JOBS[f"{service}-maintain"]
    job = cron["spec"]["jobTemplate"]
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]

    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert container["command"] == ["python", "-m", f"services.{service}.manage", "maintain"]
    # Every setting it reads (its retentions among them); it never talks to RabbitMQ, nor
    # serves a request that the gateway's secret would vouch for.
    assert SERVICE_VARS[service] - ADMIN - {"AMQP_URL", "GATEWAY_SECRET"} <= _environment(job)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= set(container["resources"])
