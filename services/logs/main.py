"""The logs service's app: `uvicorn services.logs.main:create_app --factory`."""

from fastapi import FastAPI

from services.logs.config import LogsSettings
from services.logs.models import SCHEMA
from services.logs.router import router
from shared.web.app import create_service_app
from shared.web.security import TokenVerifier


def create_app(
    settings: LogsSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    """Build the logs app from settings (the environment by default)."""
    settings = settings or LogsSettings()
    return create_service_app(
        service="logs",
        title="Efficient System: logs",
        settings=settings,
        token_verifier=token_verifier,
        routers=[router],
        read_model=SCHEMA,  # X-Read-Model: replaying while a replay rebuilds it
    )
