"""Interactive docs under each service's own prefix, correct directly and through the gateway.

`/tasks/docs` and `/tasks/openapi.json` sit beside the service's routes, so the gateway's
`/api/tasks/` location serves them as `/api/tasks/docs` with no extra rule. Behind the gateway
(`X-Forwarded-Prefix: /api`, see `shared.middleware`), the schema names `/api` as its server and
the login form posts to `/api/auth/login`, so "Try it out" and "Authorize" work there too.
"""

import copy
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

TOKEN_PATH = "/auth/login"


def _schema_for(app: FastAPI, root_path: str) -> dict[str, Any]:
    schema = copy.deepcopy(app.openapi())
    if root_path:
        schema["servers"] = [{"url": root_path}]
    for scheme in schema.get("components", {}).get("securitySchemes", {}).values():
        password_flow = scheme.get("flows", {}).get("password")
        if password_flow is not None:
            password_flow["tokenUrl"] = root_path + TOKEN_PATH
    return schema


def install_docs(app: FastAPI, prefix: str) -> None:
    """Serve `{prefix}/openapi.json` and `{prefix}/docs`."""

    @app.get(f"{prefix}/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        return JSONResponse(_schema_for(app, request.scope.get("root_path", "")))

    @app.get(f"{prefix}/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root_path = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root_path}{prefix}/openapi.json", title=f"{app.title} docs"
        )
