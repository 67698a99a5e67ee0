"""Dependencies of the tasks routes, as `Annotated` aliases."""

import re
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from services.tasks.schemas import SortField, SortOrder, TaskFilters
from services.tasks.users import UserDirectory
from shared.errors import InvalidFieldError
from shared.events import TaskStatus
from shared.ids import Id

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


async def task_filters(
    status: Annotated[TaskStatus | None, Query()] = None,
    assignee_id: Annotated[Id | None, Query()] = None,
    creator_id: Annotated[Id | None, Query()] = None,
    sort: Annotated[SortField, Query(description="The field to sort by.")] = SortField.CREATED_AT,
    order: Annotated[SortOrder, Query()] = SortOrder.DESC,
) -> TaskFilters:
    return TaskFilters(
        status=status, assignee_id=assignee_id, creator_id=creator_id, sort=sort, order=order
    )


UsersDep = Annotated[UserDirectory, Depends(get_users)]
ExpectedVersionDep = Annotated[int | None, Depends(expected_version)]
TaskFiltersDep = Annotated[TaskFilters, Depends(task_filters)]
