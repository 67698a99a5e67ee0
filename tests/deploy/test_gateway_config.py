"""The gateway template's settings reach nginx the same way locally, in docker and in k8s."""

import re
from pathlib import Path

import yaml

from gateway.render import DEFAULTS, LOCAL_ACCESS_LOG, PLACEHOLDER, write_config
from tests.deploy.settings_vars import env_example_names

ROOT = Path(__file__).parents[2]
TEMPLATE_VARS = set(PLACEHOLDER.findall((ROOT / "gateway/gateway.conf.template").read_text()))
DOCKERFILE = (ROOT / "gateway/Dockerfile").read_text()


def test_render_has_a_default_for_every_template_value() -> None:
    assert set(DEFAULTS) == TEMPLATE_VARS


def test_the_image_defines_and_substitutes_every_template_value() -> None:
    # An unset name would stay `${NAME}` in the config, and nginx would refuse to start.
    defined = set(re.findall(r"^\s*(?:ENV\s+)?([A-Z_]+)=", DOCKERFILE, flags=re.MULTILINE))
    envsubst_filter = re.search(r'NGINX_ENVSUBST_FILTER="([^"]+)"', DOCKERFILE)

    assert envsubst_filter is not None
    assert defined >= TEMPLATE_VARS, TEMPLATE_VARS - defined
    assert all(re.search(envsubst_filter.group(1), name) for name in TEMPLATE_VARS)


def test_compose_and_k8s_configure_every_template_value() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    config_maps = yaml.safe_load_all((ROOT / "k8s/10-config.yaml").read_text())
    gateway_config = next(c for c in config_maps if c["metadata"]["name"] == "gateway-config")

    assert set(compose["services"]["gateway"]["environment"]) == TEMPLATE_VARS
    # GATEWAY_SECRET comes from the Secret gateway-secret (tests/deploy/test_k8s.py)
    assert set(gateway_config["data"]) == TEMPLATE_VARS - {"GATEWAY_SECRET"}
    assert env_example_names() >= TEMPLATE_VARS


def test_a_file_access_log_starts_empty_and_keeps_the_run_before(tmp_path: Path) -> None:
    values = {"GATEWAY_ACCESS_LOG": LOCAL_ACCESS_LOG}
    write_config(tmp_path, values)
    log = tmp_path / LOCAL_ACCESS_LOG
    log.write_text("the first run's line\n")

    write_config(tmp_path, values)  # the next start

    assert not log.exists()
    assert (tmp_path / "logs" / "access.log.1").read_text() == "the first run's line\n"
    write_config(tmp_path, {"GATEWAY_ACCESS_LOG": "/dev/stdout"})  # not a file of ours
    assert (tmp_path / "logs" / "access.log.1").exists()
