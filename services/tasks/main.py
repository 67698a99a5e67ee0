"""The tasks service's app: `uvicorn services.tasks.main:create_app --factory`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.tasks.config import TasksSettings
from services.tasks.router import router
from services.tasks.users import UserDirectory
from shared.app import create_service_app
from shared.db import Database
from shared.logging import configure_logging
from shared.security import TokenVerifier, jwks_verifier


def create_app(
    settings: TasksSettings | None = None,
    *,
    users: UserDirectory | None = None,
    token_verifier: TokenVerifier | None = None,
) -> FastAPI:
    """Build the tasks app from settings (the environment by default)."""
    settings = settings or TasksSettings()
    configure_logging(service="tasks", level=settings.log_level, json=settings.log_json)
    directory = users or UserDirectory(
        settings.auth_url, client=httpx.Client(timeout=settings.http_timeout_seconds)
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        directory.close()

    app = create_service_app(
        title="Efficient System: tasks",
        settings=settings,
        database=Database(settings.database_url, pool_size=settings.db_pool_size),
        token_verifier=token_verifier or jwks_verifier(settings),
        routers=[router],
        lifespan=lifespan,
    )
    app.state.users = directory
    return app
