"""The one place a service's FastAPI app gets its common parts."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI

from shared import health
from shared.db import Database
from shared.docs import install_docs
from shared.errors import ErrorResponse, install_error_handlers
from shared.middleware import install_middleware
from shared.security import TokenVerifier
from shared.settings import ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse, "description": description}
    for code, description in {
        400: "Malformed request",
        401: "Not signed in, or the token is not valid",
        422: "Invalid input; `errors` names each field",
    }.items()
}


@asynccontextmanager
async def _no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


def create_service_app(
    *,
    title: str,
    settings: ServiceSettings,
    database: Database,
    token_verifier: TokenVerifier,
    routers: Sequence[APIRouter],
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """A FastAPI app with the common error shape, request IDs, access log, health probes and
    interactive docs under the first router's prefix (e.g. `/tasks/docs`)."""
    inner = lifespan or _no_lifespan

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with inner(app):
                yield
        finally:
            database.dispose()

    app = FastAPI(
        title=title,
        lifespan=app_lifespan,
        responses=ERROR_RESPONSES,
        openapi_url=None,  # served by `install_docs`, under the service's prefix
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.token_verifier = token_verifier
    install_error_handlers(app)
    install_middleware(app, max_body_size=settings.max_body_bytes)
    app.include_router(health.router)
    install_docs(app, routers[0].prefix)  # before the routers: `/tasks/docs` is no task id
    for router in routers:
        app.include_router(router)
    return app
