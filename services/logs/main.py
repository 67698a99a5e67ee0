"""The logs service's app: `uvicorn services.logs.main:create_app --factory`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.logs.config import LogsSettings
from services.logs.hub import ActivityHub
from services.logs.models import SCHEMA
from services.logs.router import router
from services.logs.streaming import Detacher
from shared.web.app import create_service_app
from shared.web.security import TokenVerifier


def create_app(
    settings: LogsSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    """Build the logs app from settings (the environment by default)."""
    settings = settings or LogsSettings()
    app = create_service_app(
        service="logs",
        title="Efficient System: logs",
        settings=settings,
        token_verifier=token_verifier,
        routers=[router],
        read_model=SCHEMA,  # X-Read-Model: replaying while a replay rebuilds it
    )
    app.state.activity_hub = ActivityHub(app.state.database, settings.database_url)
    app.add_middleware(Detacher)  # the outermost of the app's layers: live streams detach
    common = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The live streams' hub: ended before the common parts (the database) close.
        async with common(app):
            app.state.activity_hub.start()
            try:
                yield
            finally:
                await app.state.activity_hub.stop()

    app.router.lifespan_context = lifespan
    return app
