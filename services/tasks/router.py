"""Thin HTTP endpoints of the tasks service: parse, call one service function, answer.

Each endpoint runs on the event loop and enters a database thread once (`Database.run`); a
write naming a user the directory misses enters it twice, asking auth in between on the event
loop (`services/tasks/users.py`).
"""

from fastapi import APIRouter, Request, Response, status

from services.tasks import service
from services.tasks.deps import ExpectedVersionsDep, IfNoneMatchDep, TaskListDep, UsersDep
from services.tasks.schemas import TaskCreate, TaskRead, TaskUpdate
from shared.core.db import DatabaseDep
from shared.web.conditional import version_etag
from shared.web.ids import PathId
from shared.web.openapi import problem_responses
from shared.web.pagination import Page
from shared.web.security import CurrentUser

router = APIRouter(prefix="/tasks", tags=["tasks"])

_DESCRIPTIONS = {
    403: "Not the creator, the assignee or an admin",
    404: "No such task",
    503: "Overloaded, or the assignee is not in the directory yet and auth is down",
}
_ETAG = {"ETag": {"description": 'The task\'s version, e.g. "3".', "schema": {"type": "string"}}}
_CREATE_ERRORS = problem_responses(403, 503, descriptions=_DESCRIPTIONS)
# OpenAPI links: what a client (or a stateful fuzzer) can do next with the task it created.
_TASK_ID = {"task_id": "$response.body#/id"}
_LINKS = {
    "tasks_get": {"operationId": "tasks_get", "parameters": _TASK_ID},
    "tasks_update": {
        "operationId": "tasks_update",
        "parameters": {**_TASK_ID, "header.If-Match": "$response.header.ETag"},
    },
    "tasks_replace": {"operationId": "tasks_replace", "parameters": _TASK_ID},
    "tasks_delete": {
        "operationId": "tasks_delete",
        "parameters": {**_TASK_ID, "header.If-Match": "$response.header.ETag"},
    },
}
_WRITE_ERRORS = problem_responses(403, 404, 412, 503, descriptions=_DESCRIPTIONS)
_READ_ANSWERS: dict[int | str, dict[str, object]] = {
    200: {"headers": _ETAG},
    304: {
        "description": "Not modified: `If-None-Match` names the current version",
        "headers": _ETAG,
    },
    **problem_responses(404, descriptions=_DESCRIPTIONS),
}


def _with_etag(task: TaskRead, response: Response) -> TaskRead:
    response.headers["ETag"] = version_etag(task.version)
    return task


@router.post(
    "/",
    operation_id="tasks_create",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskRead,
    responses={201: {"headers": _ETAG, "links": _LINKS}, **_CREATE_ERRORS},
)
async def create_task(
    data: TaskCreate,
    user: CurrentUser,
    database: DatabaseDep,
    users: UsersDep,
    request: Request,
    response: Response,
) -> TaskRead:
    """Create a task; the caller is its creator."""
    task = await users.run(
        database.write, service.create_task, token=user.token, data=data, actor=user
    )
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/tasks/{task.id}"
    return _with_etag(task, response)


@router.get("/", operation_id="tasks_list", response_model=Page[TaskRead])
async def list_tasks(_: CurrentUser, database: DatabaseDep, query: TaskListDep) -> Response:
    """Tasks created in a month (UTC; the current one by default), filtered and sorted."""
    page = await database.query(
        service.list_tasks, month=query.month, filters=query.filters, params=query.page
    )
    return Response(page, media_type="application/json")  # already `Page[TaskRead]`


@router.get(
    "/{task_id}", operation_id="tasks_get", response_model=TaskRead, responses=_READ_ANSWERS
)
async def get_task(
    task_id: PathId,
    _: CurrentUser,
    database: DatabaseDep,
    if_none_match: IfNoneMatchDep,
    response: Response,
) -> TaskRead | Response:
    """One task, with its version as the ETag; 304 when `If-None-Match` names that version."""
    task = await database.query(service.get_task, task_id=task_id)
    if if_none_match is not None and if_none_match.weak_match(task.version):
        etag = {"ETag": version_etag(task.version)}
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=etag)
    return _with_etag(task, response)


_UPDATE_ANSWERS = {200: {"headers": _ETAG}, **_WRITE_ERRORS}


@router.put(
    "/{task_id}", operation_id="tasks_replace", response_model=TaskRead, responses=_UPDATE_ANSWERS
)
@router.patch(
    "/{task_id}", operation_id="tasks_update", response_model=TaskRead, responses=_UPDATE_ANSWERS
)
async def update_task(
    task_id: PathId,
    data: TaskUpdate,
    user: CurrentUser,
    database: DatabaseDep,
    users: UsersDep,
    versions: ExpectedVersionsDep,
    response: Response,
) -> TaskRead:
    """Change the fields given; the others stay. PUT and PATCH behave the same."""
    task = await users.run(
        database.run,
        service.update_task,
        token=user.token,
        task_id=task_id,
        data=data,
        actor=user,
        expected_versions=versions,
    )
    return _with_etag(task, response)


@router.delete(
    "/{task_id}",
    operation_id="tasks_delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_WRITE_ERRORS,
)
async def delete_task(
    task_id: PathId, user: CurrentUser, database: DatabaseDep, versions: ExpectedVersionsDep
) -> Response:
    """Delete a task (its creator or an admin)."""
    await database.run(service.delete_task, task_id=task_id, actor=user, expected_versions=versions)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
