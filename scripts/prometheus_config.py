"""Render the configuration of `make run`'s Prometheus: `python -m scripts.prometheus_config DIR`.

Writes DIR/prometheus.yml: one scrape job per process of the Procfile (each API, relay and
consumer serves its metrics on a port of its own, `METRICS_PORT`), Prometheus itself, and the
alert rules of `deploy/prometheus/alerts.yml`. The ports come from the environment, with the
defaults of `make run`; `PROMETHEUS_SCRAPE_INTERVAL` sets how often it scrapes and evaluates.
"""

import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
# Scrape job -> the variable holding its metrics port, and that port's default in `make run`.
JOBS = {
    "auth": ("AUTH_METRICS_PORT", 9101),
    "tasks": ("TASKS_METRICS_PORT", 9102),
    "logs": ("LOGS_METRICS_PORT", 9103),
    "kpi": ("KPI_METRICS_PORT", 9104),
    "hooks": ("HOOKS_METRICS_PORT", 9105),
    "auth-relay": ("AUTH_RELAY_METRICS_PORT", 9111),
    "tasks-relay": ("TASKS_RELAY_METRICS_PORT", 9112),
    "tasks-consumer": ("TASKS_CONSUMER_METRICS_PORT", 9122),
    "logs-consumer": ("LOGS_CONSUMER_METRICS_PORT", 9123),
    "kpi-consumer": ("KPI_CONSUMER_METRICS_PORT", 9124),
    "hooks-consumer": ("HOOKS_CONSUMER_METRICS_PORT", 9125),
    "hooks-dispatcher": ("HOOKS_DISPATCHER_METRICS_PORT", 9135),
    "prometheus": ("PROMETHEUS_PORT", 9090),
}
DEFAULT_SCRAPE_INTERVAL = "15s"


def config(environ: dict[str, str]) -> dict[str, object]:
    """The Prometheus configuration for the ports `environ` sets (defaults for the rest)."""
    interval = environ.get("PROMETHEUS_SCRAPE_INTERVAL") or DEFAULT_SCRAPE_INTERVAL
    jobs = []
    for job, (variable, default) in JOBS.items():
        port = int(environ.get(variable) or default)
        jobs.append({"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]})
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(RULES)],
        "scrape_configs": jobs,
    }


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config(dict(os.environ)), sort_keys=False)
    (out_dir / "prometheus.yml").write_text(text)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
