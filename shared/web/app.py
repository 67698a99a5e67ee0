"""The one place a service's FastAPI app gets its common parts."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from shared.core import metrics, tracing
from shared.core.db import Database
from shared.core.logging import configure_logging
from shared.core.readmodel import ReplayFlag
from shared.core.settings import ServiceSettings
from shared.core.tracing import configure_tracing
from shared.core.version import VERSION
from shared.web import health
from shared.web.docs import install_docs
from shared.web.errors import install_error_handlers
from shared.web.middleware import install_middleware
from shared.web.openapi import operation_id
from shared.web.query import document_query_models
from shared.web.security import TokenVerifier, jwks_verifier


def create_service_app(
    *,
    service: str,
    title: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter],
    token_verifier: TokenVerifier | None = None,
    on_shutdown: Sequence[Callable[[], Awaitable[None] | None]] = (),
    read_model: str | None = None,
) -> FastAPI:
    """A FastAPI app with JSON logs, traces (`shared/core/tracing.py`), the common error shape,
    request IDs, an access log, health probes, interactive docs under the first router's prefix
    (e.g. `/tasks/docs`), and its Prometheus metrics on a port of their own (`METRICS_PORT`,
    `shared/core/metrics.py`).

    Its database comes from `settings`; tokens are checked against auth's JWKS unless another
    `token_verifier` is given; `on_shutdown` closes what the service opened (HTTP clients).
    A service that serves a consumer's read model names its schema as `read_model`: while a
    replay rebuilds it, answers carry `X-Read-Model: replaying` (`shared/core/readmodel.py`).
    """
    configure_logging(service=service, level=settings.log_level, json=settings.log_json)
    configure_tracing(service=service)
    database = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        queue_limit=settings.db_queue_limit,
        queue_timeout=settings.db_queue_timeout,
    )
    verifier = token_verifier or jwks_verifier(settings)
    flag = ReplayFlag(settings.database_url, schema=read_model) if read_model else None
    metrics.watch_pools(database)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Keys first, in the background: the first requests need not fetch them themselves.
        prefetching = asyncio.create_task(verifier.keys.prefetch())
        stop_metrics = metrics.serve(port=settings.metrics_port, address=settings.metrics_address)
        watching = asyncio.create_task(flag.watch()) if flag is not None else None
        try:
            yield
        finally:
            prefetching.cancel()
            if watching is not None:
                watching.cancel()
            if flag is not None:
                flag.dispose()
            for close in on_shutdown:
                closing = close()
                if closing is not None:  # an async close (an httpx.AsyncClient's)
                    await closing
            await verifier.aclose()
            database.dispose()
            stop_metrics()

    app = FastAPI(
        # FastAPI's native OpenTelemetry: a server span per request (and spans of its
        # dependencies, endpoint and serialization) with tracing on; with it off, nothing is
        # looked up per request (the global providers would be checked on each).
        telemetry={
            "tracing": tracing.enabled(),
            "tracer_provider": tracing.provider(),
            "exclude": health.is_probe,
            "metrics": False,
            "logs": False,
        },
        title=title,
        lifespan=lifespan,
        version=VERSION,
        generate_unique_id_function=operation_id,  # `tasks_get`, not `get_task_tasks__...`
        openapi_url=None,  # served by `install_docs`, under the service's prefix
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.token_verifier = verifier
    install_error_handlers(app)
    install_middleware(
        app,
        max_body_size=settings.max_body_bytes,
        access_log=settings.access_log,
        metrics=settings.metrics_port != 0,  # no metrics server: nothing to record for it
        replay_flag=flag,
    )
    app.include_router(health.router)
    document_query_models(app)  # their parameters, which FastAPI does not see
    install_docs(app, routers[0].prefix)  # before the routers: `/tasks/docs` is no task id
    for router in routers:
        app.include_router(router)
    return app
