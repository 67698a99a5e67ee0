"""Thin HTTP endpoints of the KPI service: parse, call one service function, answer."""

from fastapi import APIRouter

from services.kpi import service
from services.kpi.deps import MonthSpanDep
from services.kpi.schemas import ByUserKpi, CompletionRate, MonthlyKpi, Trend
from shared.db import DatabaseDep
from shared.months import MonthDep
from shared.security import CurrentUser

router = APIRouter(prefix="/kpi", tags=["kpi"])


@router.get("/completion-rate", response_model=CompletionRate)
async def completion_rate(_: CurrentUser, database: DatabaseDep, month: MonthDep) -> CompletionRate:
    """Tasks created in a month (UTC; the current one by default) and the share done."""
    return await database.read(service.completion_rate, month=month)


@router.get("/by-user", response_model=ByUserKpi)
async def by_user(_: CurrentUser, database: DatabaseDep, month: MonthDep) -> ByUserKpi:
    """Per assignee: tasks created in a month by status, with the usernames kpi knows."""
    return await database.read(service.by_user, month=month)


@router.get("/monthly", response_model=MonthlyKpi)
async def monthly(_: CurrentUser, database: DatabaseDep, month: MonthDep) -> MonthlyKpi:
    """A month's tasks by status and overdue, its completions and their mean time."""
    return await database.read(service.monthly, month=month)


@router.get("/trend", response_model=Trend)
async def trend(_: CurrentUser, database: DatabaseDep, span: MonthSpanDep) -> Trend:
    """One point per month from `from` to `to` (YYYY-MM, at most 120 months)."""
    return await database.read(service.trend, span=span)
