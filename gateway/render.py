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
    "GATEWAY_AUTH_RATE": "300r/m",
    "GATEWAY_AUTH_BURST": "100",
    "GATEWAY_TRUSTED_PROXIES": "unix:",
    "GATEWAY_SECRET": "",
    "GATEWAY_TLS": "off",
    "GATEWAY_ACCESS_LOG": "/dev/stdout",
    "CORS_ALLOWED_ORIGINS": "",
    "AUTH_UPSTREAM": "127.0.0.1:8001",
    "TASKS_UPSTREAM": "127.0.0.1:8002",
    "LOGS_UPSTREAM": "127.0.0.1:8003",
    "KPI_UPSTREAM": "127.0.0.1:8004",
    "HOOKS_UPSTREAM": "127.0.0.1:8005",
}
# Where `make run` has nginx write the access log (its GATEWAY_ACCESS_LOG, in the prefix
# directory); the image writes to /dev/stdout.
LOCAL_ACCESS_LOG = "logs/access.log"
# The built web app (`make run` builds frontend/ into it), served as `app` of the prefix.
APP_ROOT = HERE.parent.resolve() / "frontend" / "dist"
PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")
SECRET = re.compile(r"[A-Za-z0-9_-]{32,128}")  # as auth requires (services/auth/config.py)
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def cors_origins(value: str) -> str:
    """The allowed origins, space-separated; anything that is not an exact origin is an error."""
    origins = value.replace(",", " ").split()
    for origin in origins:
        if not ORIGIN.match(origin):
            raise ValueError(
                f"CORS_ALLOWED_ORIGINS: {origin!r} is not an origin like https://app.example.com"
            )
    return " ".join(origins)


def render(template: str, values: dict[str, str]) -> str:
    """Replace every ${NAME}; a name with no value is an error, not an empty string."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no value for ${{{name}}}")
        return values[name]

    return PLACEHOLDER.sub(value, template)


def write_config(out_dir: Path, values: dict[str, str], *, app_root: Path = APP_ROOT) -> None:
    """Lay out `out_dir` as an nginx prefix directory with the rendered gateway config, its
    `app` linked to the built web app."""
    for directory in ("tmp", "logs"):
        (out_dir / directory).mkdir(parents=True, exist_ok=True)
    app = out_dir / "app"
    if app.is_symlink() or app.exists():
        app.unlink()
    app.symlink_to(app_root, target_is_directory=True)
    values = {**DEFAULTS, **values}
    values["CORS_ALLOWED_ORIGINS"] = cors_origins(values["CORS_ALLOWED_ORIGINS"])
    if values["GATEWAY_SECRET"] and not SECRET.fullmatch(values["GATEWAY_SECRET"]):
        raise ValueError("GATEWAY_SECRET must be 32 to 128 letters, digits, - or _")
    template = (HERE / "gateway.conf.template").read_text()
    (out_dir / "gateway.conf").write_text(render(template, values))
    shutil.copyfile(HERE / "nginx.local.conf", out_dir / "nginx.conf")
    rotate_access_log(out_dir, values["GATEWAY_ACCESS_LOG"])


def rotate_access_log(out_dir: Path, access_log: str) -> None:
    """A file access log in the prefix directory starts empty with each start; the previous
    run's is kept beside it as `<name>.1` (so two runs' worth at most, not every run's)."""
    if Path(access_log).is_absolute():  # e.g. /dev/stdout
        return
    log = out_dir / access_log
    if log.exists():
        log.replace(log.with_name(log.name + ".1"))


def main(out_dir: Path) -> None:
    write_config(out_dir, {name: value for name in DEFAULTS if (value := os.environ.get(name))})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
