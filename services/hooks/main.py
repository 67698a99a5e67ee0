"""The hooks service's app: `uvicorn services.hooks.main:create_app --factory`."""

from fastapi import FastAPI

from services.hooks.config import HooksSettings
from services.hooks.router import router
from shared.web.app import create_service_app
from shared.web.security import TokenVerifier


def create_app(
    settings: HooksSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    """Build the hooks app from settings (the environment by default)."""
    settings = settings or HooksSettings()
    return create_service_app(
        service="hooks",
        title="Efficient System: hooks",
        settings=settings,
        token_verifier=token_verifier,
        routers=[router],
    )
