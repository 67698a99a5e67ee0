"""The KPI service's app: `uvicorn services.kpi.main:create_app --factory`."""

import httpx
from fastapi import FastAPI

from services.kpi.config import KpiSettings
from services.kpi.router import router
from services.kpi.users import UserNames
from shared.app import create_service_app
from shared.security import TokenVerifier


def create_app(
    settings: KpiSettings | None = None,
    *,
    users: UserNames | None = None,
    token_verifier: TokenVerifier | None = None,
) -> FastAPI:
    """Build the KPI app from settings (the environment by default)."""
    settings = settings or KpiSettings()
    names = users or UserNames(
        settings.auth_url, client=httpx.Client(timeout=settings.http_timeout_seconds)
    )
    app = create_service_app(
        service="kpi",
        title="Efficient System: KPI",
        settings=settings,
        token_verifier=token_verifier,
        routers=[router],
        on_shutdown=[names.close],
    )
    app.state.users = names
    return app
