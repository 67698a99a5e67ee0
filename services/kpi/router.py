"""Thin HTTP endpoints of the KPI service: parse, call one service function, answer."""

from fastapi import APIRouter

from services.kpi import service
from services.kpi.deps import MonthSpanDep
from services.kpi.schemas import ByUserKpi, CompletionRate, MonthlyKpi, Trend
from shared.db import SessionDep
from shared.months import MonthDep
from shared.security import CurrentUser

router = APIRouter(prefix="/kpi", tags=["kpi"])


@router.get("/completion-rate", response_model=CompletionRate)
def completion_rate(_: CurrentUser, session: SessionDep, month: MonthDep) -> CompletionRate:
    """Tasks created in a month (UTC; the current one by default) and the share done."""
    return service.completion_rate(session, month=month)


@router.get("/by-user", response_model=ByUserKpi)
def by_user(_: CurrentUser, session: SessionDep, month: MonthDep) -> ByUserKpi:
    """Per assignee: tasks created in a month by status, with the usernames kpi knows."""
    return service.by_user(session, month=month)


@router.get("/monthly", response_model=MonthlyKpi)
def monthly(_: CurrentUser, session: SessionDep, month: MonthDep) -> MonthlyKpi:
    """A month's tasks by status and overdue, its completions and their mean time."""
    return service.monthly(session, month=month)


@router.get("/trend", response_model=Trend)
def trend(_: CurrentUser, session: SessionDep, span: MonthSpanDep) -> Trend:
    """One point per month from `from` to `to` (YYYY-MM, at most 120 months)."""
    return service.trend(session, span=span)
