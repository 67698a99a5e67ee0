"""Liveness (`/healthz`) and readiness (`/readyz`, the database answers) probes."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from shared.db import Database, get_database
from shared.errors import ServiceUnavailableError

router = APIRouter(tags=["health"])


class HealthStatus(BaseModel):
    status: str


@router.get("/healthz", response_model=HealthStatus)
def healthz() -> HealthStatus:
    """The process is alive."""
    return HealthStatus(status="ok")


@router.get(
    "/readyz",
    response_model=HealthStatus,
    responses={503: {"description": "The database is not reachable."}},
)
def readyz(database: Annotated[Database, Depends(get_database)]) -> HealthStatus:
    """The process can serve requests: its database answers."""
    if not database.is_reachable():
        raise ServiceUnavailableError("The database is not reachable.")
    return HealthStatus(status="ready")
