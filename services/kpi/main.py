"""The KPI service's app: `uvicorn services.kpi.main:create_app --factory`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.kpi.config import KpiSettings
from services.kpi.router import router
from services.kpi.users import UserNames
from shared.app import create_service_app
from shared.db import Database
from shared.logging import configure_logging
from shared.security import TokenVerifier, jwks_verifier


def create_app(
    settings: KpiSettings | None = None,
    *,
    users: UserNames | None = None,
    token_verifier: TokenVerifier | None = None,
) -> FastAPI:
    """Build the KPI app from settings (the environment by default)."""
    settings = settings or KpiSettings()
    configure_logging(service="kpi", level=settings.log_level, json=settings.log_json)
    names = users or UserNames(
        settings.auth_url, client=httpx.Client(timeout=settings.http_timeout_seconds)
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        names.close()

    app = create_service_app(
        title="Efficient System: KPI",
        settings=settings,
        database=Database(settings.database_url, pool_size=settings.db_pool_size),
        token_verifier=token_verifier or jwks_verifier(settings),
        routers=[router],
        lifespan=lifespan,
    )
    app.state.users = names
    return app
