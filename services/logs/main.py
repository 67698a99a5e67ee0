"""The logs service's app: `uvicorn services.logs.main:create_app --factory`."""

from fastapi import FastAPI

from services.logs.config import LogsSettings
from services.logs.router import router
from shared.app import create_service_app
from shared.db import Database
from shared.logging import configure_logging
from shared.security import TokenVerifier, jwks_verifier


def create_app(
    settings: LogsSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    """Build the logs app from settings (the environment by default)."""
    settings = settings or LogsSettings()
    configure_logging(service="logs", level=settings.log_level, json=settings.log_json)
    return create_service_app(
        title="Efficient System: logs",
        settings=settings,
        database=Database(settings.database_url, pool_size=settings.db_pool_size),
        token_verifier=token_verifier or jwks_verifier(settings),
        routers=[router],
    )
