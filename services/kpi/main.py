"""The KPI service's app: `uvicorn services.kpi.main:create_app --factory`."""

from fastapi import FastAPI

from services.kpi.config import KpiSettings
from services.kpi.models import SCHEMA
from services.kpi.router import router
from shared.web.app import create_service_app
from shared.web.security import TokenVerifier


def create_app(
    settings: KpiSettings | None = None, *, token_verifier: TokenVerifier | None = None
) -> FastAPI:
    """Build the KPI app from settings (the environment by default)."""
    return create_service_app(
        service="kpi",
        title="Efficient System: KPI",
        settings=settings or KpiSettings(),
        token_verifier=token_verifier,
        routers=[router],
        read_model=SCHEMA,  # X-Read-Model: replaying while a replay rebuilds it
    )
