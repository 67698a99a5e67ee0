"""Thin HTTP endpoints of the logs service: parse, call one service function, answer."""

from fastapi import APIRouter

from services.logs import service
from services.logs.deps import LogFiltersDep
from services.logs.schemas import LogEntryRead
from shared.core.db import DatabaseDep
from shared.web.pagination import Page, PageDep
from shared.web.security import CurrentUser

router = APIRouter(prefix="/logs", tags=["logs"])

_LIST_DESCRIPTION = (
    "Activity-log entries, newest first. `year` and `month` select the month (UTC) in which"
    " the entries happened; neither means the current month, except with `task_id` alone:"
    " then the task's whole history."
)


@router.get(
    "/", operation_id="logs_list", response_model=Page[LogEntryRead], description=_LIST_DESCRIPTION
)
async def list_logs(
    _: CurrentUser, database: DatabaseDep, filters: LogFiltersDep, page: PageDep
) -> Page[LogEntryRead]:
    """Log entries, newest first: of a month, or of one task's whole history."""
    return await database.read(service.list_entries, filters=filters, params=page)
