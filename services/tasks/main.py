"""The tasks service's app: `uvicorn services.tasks.main:create_app --factory`."""

from fastapi import FastAPI

from services.tasks.config import TasksSettings
from services.tasks.models import SCHEMA
from services.tasks.router import router
from services.tasks.users import UserDirectory
from shared.core.tracing import configure_tracing
from shared.web.app import create_service_app
from shared.web.client import async_service_client
from shared.web.security import TokenVerifier


def create_app(
    settings: TasksSettings | None = None,
    *,
    users: UserDirectory | None = None,
    token_verifier: TokenVerifier | None = None,
) -> FastAPI:
    """Build the tasks app from settings (the environment by default)."""
    settings = settings or TasksSettings()
    configure_tracing(service="tasks")  # before its HTTP client, traced if tracing is on
    directory = users or UserDirectory(
        settings.auth_url, client=async_service_client(timeout=settings.http_timeout_seconds)
    )
    app = create_service_app(
        service="tasks",
        title="Efficient System: tasks",
        settings=settings,
        token_verifier=token_verifier,
        routers=[router],
        on_shutdown=[directory.aclose],
        read_model=SCHEMA,  # X-Read-Model: replaying while a replay rebuilds it
    )
    app.state.users = directory
    return app
