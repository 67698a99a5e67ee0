"""Dependencies of the logs routes, as `Annotated` aliases."""

import asyncio
from typing import Annotated

from fastapi import Depends, Query, Request

from services.logs.hub import ActivityHub
from services.logs.models import ActionType
from services.logs.schemas import LogFilters
from shared.core.db import DatabaseUnavailableError
from shared.web.ids import Id
from shared.web.months import MonthDep


async def log_filters(
    request: Request,
    month: MonthDep,
    task_id: Annotated[
        Id | None,
        Query(description="Only this task. Without `year` and `month`: its whole history."),
    ] = None,
    user_id: Annotated[Id | None, Query(description="Only what this user did.")] = None,
    action_type: Annotated[ActionType | None, Query()] = None,
) -> LogFilters:
    """The filters; a task asked for without `year` and `month` gets its whole history."""
    month_given = "year" in request.query_params or "month" in request.query_params
    whole_history = task_id is not None and not month_given
    return LogFilters(
        period=None if whole_history else month,
        task_id=task_id,
        user_id=user_id,
        action_type=action_type,
    )


LogFiltersDep = Annotated[LogFilters, Depends(log_filters)]


async def stream_filters(
    task_id: Annotated[Id | None, Query(description="Only this task's entries.")] = None,
    user_id: Annotated[Id | None, Query(description="Only what this user did.")] = None,
    action_type: Annotated[ActionType | None, Query()] = None,
) -> LogFilters:
    """A stream's filters: the list's, without a month (a stream has no end)."""
    return LogFilters(period=None, task_id=task_id, user_id=user_id, action_type=action_type)


StreamFiltersDep = Annotated[LogFilters, Depends(stream_filters)]


async def get_hub(request: Request) -> ActivityHub:
    """This process's hub of live streams, listening from the first stream on."""
    hub: ActivityHub = request.app.state.activity_hub
    try:
        async with asyncio.timeout(5.0):
            await hub.ensure_listening()
    except TimeoutError as exc:
        raise DatabaseUnavailableError() from exc
    return hub


HubDep = Annotated[ActivityHub, Depends(get_hub)]
