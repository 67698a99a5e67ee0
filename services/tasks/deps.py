"""Dependencies of the tasks routes, as `Annotated` aliases."""

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from pydantic import Field

from services.tasks.schemas import SortField, SortOrder, TaskFilters
from services.tasks.users import UserDirectory
from shared.errors import InvalidFieldError
from shared.events import TaskStatus
from shared.ids import Id
from shared.months import MonthQuery, MonthRange
from shared.pagination import PageParams, PageQuery

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,18})"?$')


async def get_users(request: Request) -> UserDirectory:
    users: UserDirectory = request.app.state.users
    return users


async def expected_version(
    if_match: Annotated[
        str | None,
        Header(description='The version (or ETag) the client last read: "3". Stale: 412.'),
    ] = None,
) -> int | None:
    """The version named by `If-Match`; `None` when absent or `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise InvalidFieldError(
            field="If-Match", location="header", message='Expected a task version such as "3".'
        )
    return int(match.group(1))


class TaskListQuery(MonthQuery, PageQuery):
    """Every query parameter of the task list, validated in one pass (one dependency, not one
    per concern: the list is the hottest read after GET by id)."""

    status: TaskStatus | None = None
    assignee_id: Id | None = None
    creator_id: Id | None = None
    sort: SortField = Field(SortField.CREATED_AT, description="The field to sort by.")
    order: SortOrder = SortOrder.DESC


@dataclass(frozen=True)
class TaskListRequest:
    """Which tasks, in which order, which page."""

    month: MonthRange
    filters: TaskFilters
    page: PageParams


async def task_list_request(query: Annotated[TaskListQuery, Query()]) -> TaskListRequest:
    filters = TaskFilters(
        status=query.status,
        assignee_id=query.assignee_id,
        creator_id=query.creator_id,
        sort=query.sort,
        order=query.order,
    )
    return TaskListRequest(month=query.month_range(), filters=filters, page=query.page_params())


UsersDep = Annotated[UserDirectory, Depends(get_users)]
ExpectedVersionDep = Annotated[int | None, Depends(expected_version)]
TaskListDep = Annotated[TaskListRequest, Depends(task_list_request)]
