"""Write each service's published OpenAPI document: `make openapi` (`python -m scripts.openapi`).

The documents in `docs/openapi/<service>.json` are what a client generator reads: as served
through the gateway (`/api` as the server). `tests/test_openapi.py` fails when the code's
document and the committed one differ, so an API change shows in review.
"""

import json
import sys
from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr

from shared.web.openapi import published_openapi

SERVICES = ("auth", "tasks", "logs", "kpi", "hooks")
OUT_DIR = Path(__file__).parents[1] / "docs" / "openapi"


def build_app(service: str) -> FastAPI:
    """The service's app, built (not started) only to read its routes."""
    if service == "auth":
        from services.auth.config import AuthSettings
        from services.auth.keys import generate_pem
        from services.auth.main import create_app as create_auth

        # A throwaway key: the document does not depend on it, and no key file is written.
        return create_auth(AuthSettings(jwt_private_key=SecretStr(generate_pem().decode())))
    if service == "tasks":
        from services.tasks.main import create_app as create_tasks

        return create_tasks()
    if service == "logs":
        from services.logs.main import create_app as create_logs

        return create_logs()
    if service == "hooks":
        from services.hooks.main import create_app as create_hooks

        return create_hooks()
    from services.kpi.main import create_app as create_kpi

    return create_kpi()


def document(service: str) -> str:
    """The service's published document, as committed (stable key order, 2-space indent)."""
    return json.dumps(published_openapi(build_app(service)), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        path = OUT_DIR / f"{service}.json"
        path.write_text(document(service))
        print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
    sys.exit(0)
