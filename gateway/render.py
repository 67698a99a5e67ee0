"""Render the gateway configuration for a local nginx: `python gateway/render.py OUT_DIR`.

Fills the ${NAME} values of `gateway.conf.template` from the environment (defaults: the local
ports of `make run`) and lays out OUT_DIR as an nginx prefix directory. Containers render the
same template with the nginx image's envsubst instead.
"""

import os
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
DEFAULTS = {
    "GATEWAY_PORT": "8080",
    "GATEWAY_AUTH_RATE": "30r/m",
    "GATEWAY_AUTH_BURST": "10",
    "GATEWAY_TRUSTED_PROXIES": "unix:",
    "AUTH_UPSTREAM": "127.0.0.1:8001",
    "TASKS_UPSTREAM": "127.0.0.1:8002",
    "LOGS_UPSTREAM": "127.0.0.1:8003",
    "KPI_UPSTREAM": "127.0.0.1:8004",
}
PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


def render(template: str, values: dict[str, str]) -> str:
    """Replace every ${NAME}; a name with no value is an error, not an empty string."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no value for ${{{name}}}")
        return values[name]

    return PLACEHOLDER.sub(value, template)


def main(out_dir: Path) -> None:
    values = {name: os.environ.get(name) or default for name, default in DEFAULTS.items()}
    (out_dir / "tmp").mkdir(parents=True, exist_ok=True)
    template = (HERE / "gateway.conf.template").read_text()
    (out_dir / "gateway.conf").write_text(render(template, values))
    shutil.copyfile(HERE / "nginx.local.conf", out_dir / "nginx.conf")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
