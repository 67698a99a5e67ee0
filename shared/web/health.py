"""Liveness (`/healthz`) and readiness (`/readyz`, the database answers) probes."""

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.core.db import DatabaseDep

# Probes for the orchestrator, on the service's own port: not part of the API behind `/api`
# (the gateway has its own `/api/healthz`), so not in the published OpenAPI document.
router = APIRouter(tags=["health"], include_in_schema=False)
PROBES = frozenset({"/healthz", "/readyz"})


def is_probe(scope: Mapping[str, Any]) -> bool:
    """Whether the request is a probe (the orchestrator's, every few seconds: not traced)."""
    return scope.get("path") in PROBES


class HealthStatus(BaseModel):
    status: str


@router.get("/healthz", response_model=HealthStatus)
async def healthz() -> HealthStatus:
    """The process is alive."""
    return HealthStatus(status="ok")


@router.get(
    "/readyz",
    response_model=HealthStatus,
    responses={503: {"description": "The database is not reachable."}},
)
async def readyz(database: DatabaseDep) -> HealthStatus:
    """The process can serve requests: its database answers (503 otherwise)."""
    await database.read(_ping)
    return HealthStatus(status="ready")


def _ping(session: Session) -> None:
    session.execute(text("SELECT 1"))
