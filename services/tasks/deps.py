"""Dependencies of the tasks routes, as `Annotated` aliases."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from pydantic import Field

from services.tasks.schemas import SortField, SortOrder, TaskFilters
from services.tasks.users import UserDirectory
from shared.contracts.events import TaskStatus
from shared.web.conditional import ENTITY_TAGS_SCHEMA, EntityTags, parse_entity_tags
from shared.web.ids import Id
from shared.web.months import MonthQuery, MonthRange
from shared.web.pagination import PageParams, PageQuery
from shared.web.query import query_model


async def get_users(request: Request) -> UserDirectory:
    users: UserDirectory = request.app.state.users
    return users


async def expected_versions(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The ETag the client last read, e.g. "3" (strong comparison: a weak'
            " W/ tag never matches). Another version: 412.",
            examples=['"3"'],
            json_schema_extra=ENTITY_TAGS_SCHEMA,
        ),
    ] = None,
) -> frozenset[int] | None:
    """The versions `If-Match` accepts; `None` when absent or `*`."""
    tags = None if if_match is None else parse_entity_tags(if_match, header="If-Match")
    return None if tags is None else tags.strong_versions()


async def if_none_match(
    value: Annotated[
        str | None,
        Header(
            alias="If-None-Match",
            description='ETags the client holds, e.g. "3": the current one gives 304.',
            examples=['"3"'],
            json_schema_extra=ENTITY_TAGS_SCHEMA,
        ),
    ] = None,
) -> EntityTags | None:
    """The parsed `If-None-Match`, if sent."""
    return None if value is None else parse_entity_tags(value, header="If-None-Match")


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


def _task_list_request(query: TaskListQuery) -> TaskListRequest:
    """Which tasks, in which order, which page the query string asks for."""
    filters = TaskFilters(
        status=query.status,
        assignee_id=query.assignee_id,
        creator_id=query.creator_id,
        sort=query.sort,
        order=query.order,
    )
    return TaskListRequest(month=query.month_range(), filters=filters, page=query.page_params())


UsersDep = Annotated[UserDirectory, Depends(get_users)]
ExpectedVersionsDep = Annotated[frozenset[int] | None, Depends(expected_versions)]
IfNoneMatchDep = Annotated[EntityTags | None, Depends(if_none_match)]
TaskListDep = Annotated[TaskListRequest, Depends(query_model(TaskListQuery, _task_list_request))]
