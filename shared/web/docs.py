"""Interactive docs under each service's own prefix, correct directly and through the gateway.

`/tasks/docs` and `/tasks/openapi.json` (`shared.web.openapi`) sit beside the service's routes, so
the gateway's `/api/tasks/` location serves them as `/api/tasks/docs` with no extra rule. Behind the
gateway (`X-Forwarded-Prefix: /api`, see `shared.web.middleware`), the schema names `/api` as its
server and the login form posts to `/api/auth/login`, so "Try it out" and "Authorize" work there
too.
"""

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from shared.web.openapi import finish_openapi


def install_docs(app: FastAPI, prefix: str) -> None:
    """Serve `{prefix}/openapi.json` and `{prefix}/docs`."""

    @app.get(f"{prefix}/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        root_path = request.scope.get("root_path", "")
        return JSONResponse(finish_openapi(app.openapi(), root_path=root_path))

    @app.get(f"{prefix}/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root_path = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root_path}{prefix}/openapi.json", title=f"{app.title} docs"
        )
