"""Thin HTTP endpoints of the KPI service: parse, call one service function, answer."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.kpi import flow_service, service
from services.kpi.deps import FlowWindowDep, MonthSpanDep
from services.kpi.flow_schemas import (
    AgeingWork,
    CompletedTask,
    CumulativeFlow,
    FlowTimes,
    Per,
    Throughput,
    WorkInProgress,
)
from services.kpi.schemas import ByUserKpi, CompletionRate, MonthlyKpi, Trend
from shared.core.db import DatabaseDep
from shared.web.months import MonthDep
from shared.web.pagination import Page, PageDep
from shared.web.security import CurrentUser

router = APIRouter(prefix="/kpi", tags=["kpi"])


@router.get("/completion-rate", response_model=CompletionRate)
async def completion_rate(_: CurrentUser, database: DatabaseDep, month: MonthDep) -> CompletionRate:
    """Tasks created in a month (in `tz`, UTC by default; the current one by default) and the
    share done."""
    return await database.query(service.completion_rate, month=month)


@router.get("/by-user", response_model=ByUserKpi)
async def by_user(_: CurrentUser, database: DatabaseDep, month: MonthDep) -> ByUserKpi:
    """Per assignee: tasks created in a month by status, with the usernames kpi knows."""
    return await database.query(service.by_user, month=month)


@router.get("/monthly", response_model=MonthlyKpi)
async def monthly(_: CurrentUser, database: DatabaseDep, month: MonthDep) -> MonthlyKpi:
    """A month's tasks by status and overdue, its completions and their mean time."""
    return await database.query(service.monthly, month=month)


@router.get("/trend", response_model=Trend)
async def trend(_: CurrentUser, database: DatabaseDep, span: MonthSpanDep) -> Trend:
    """One point per month from `from` to `to` (YYYY-MM, at most 120 months)."""
    return await database.query(service.trend, span=span)


@router.get("/flow/times", response_model=FlowTimes)
async def flow_times(
    _: CurrentUser,
    database: DatabaseDep,
    window: FlowWindowDep,
    by_assignee: Annotated[bool, Query(description="Also per assignee at completion.")] = False,
) -> FlowTimes:
    """Cycle and lead time (count, mean, p50, p85, p95) of the tasks completed in a window."""
    return await database.read(flow_service.times, window=window, by_assignee=by_assignee)


@router.get("/flow/throughput", response_model=Throughput)
async def flow_throughput(
    _: CurrentUser, database: DatabaseDep, window: FlowWindowDep, per: Per = Per.WEEK
) -> Throughput:
    """Tasks completed per local day, week (Monday first) or month of a window."""
    return await database.read(flow_service.throughput, window=window, per=per.value)


@router.get("/flow/wip", response_model=WorkInProgress)
async def flow_wip(_: CurrentUser, database: DatabaseDep, window: FlowWindowDep) -> WorkInProgress:
    """Tasks in progress at the end of each local day of a window."""
    return await database.read(flow_service.work_in_progress, window=window)


@router.get("/flow/ageing", response_model=AgeingWork)
async def flow_ageing(_: CurrentUser, database: DatabaseDep, window: FlowWindowDep) -> AgeingWork:
    """Tasks in progress now for longer than the p85 cycle time of a window's completions."""
    return await database.read(flow_service.ageing, window=window)


@router.get("/flow/cumulative", response_model=CumulativeFlow)
async def flow_cumulative(
    _: CurrentUser, database: DatabaseDep, window: FlowWindowDep
) -> CumulativeFlow:
    """A cumulative flow: the tasks in each status at the end of each local day of a window."""
    return await database.read(flow_service.cumulative_flow, window=window)


@router.get("/flow/completions", response_model=Page[CompletedTask])
async def flow_completions(
    _: CurrentUser, database: DatabaseDep, window: FlowWindowDep, page: PageDep
) -> Page[CompletedTask]:
    """The tasks completed in a window, each with its lead and cycle time, by completion."""
    return await database.read(flow_service.completions, window=window, params=page)
