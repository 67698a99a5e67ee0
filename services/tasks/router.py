"""Thin HTTP endpoints of the tasks service: parse, call one service function, answer.

Each endpoint runs on the event loop and enters a database thread once (`Database.run`).
"""

from fastapi import APIRouter, Request, Response, status

from services.tasks import service
from services.tasks.deps import ExpectedVersionDep, TaskListDep, UsersDep
from services.tasks.schemas import TaskCreate, TaskRead, TaskUpdate
from shared.db import DatabaseDep
from shared.errors import ErrorResponse
from shared.ids import PathId
from shared.pagination import Page
from shared.security import CurrentUser

router = APIRouter(prefix="/tasks", tags=["tasks"])

_WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorResponse, "description": "Not the creator, the assignee or an admin"},
    404: {"model": ErrorResponse, "description": "No such task"},
    412: {"model": ErrorResponse, "description": "If-Match names an older version"},
    503: {
        "model": ErrorResponse,
        "description": "The assignee is not in the directory yet, and auth is unavailable",
    },
}


def _with_etag(task: TaskRead, response: Response) -> TaskRead:
    response.headers["ETag"] = f'"{task.version}"'
    return task


@router.post(
    "/", status_code=status.HTTP_201_CREATED, response_model=TaskRead, responses=_WRITE_ERRORS
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
    task = await database.run(service.create_task, data=data, actor=user, users=users)
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/tasks/{task.id}"
    return _with_etag(task, response)


@router.get("/", response_model=Page[TaskRead])
async def list_tasks(_: CurrentUser, database: DatabaseDep, query: TaskListDep) -> Page[TaskRead]:
    """Tasks created in a month (UTC; the current one by default), filtered and sorted."""
    return await database.read(
        service.list_tasks, month=query.month, filters=query.filters, params=query.page
    )


@router.get("/{task_id}", response_model=TaskRead, responses={404: _WRITE_ERRORS[404]})
async def get_task(
    task_id: PathId, _: CurrentUser, database: DatabaseDep, response: Response
) -> TaskRead:
    """One task, with its version as the ETag."""
    return _with_etag(await database.read(service.get_task, task_id=task_id), response)


@router.put("/{task_id}", response_model=TaskRead, responses=_WRITE_ERRORS)
@router.patch("/{task_id}", response_model=TaskRead, responses=_WRITE_ERRORS)
async def update_task(
    task_id: PathId,
    data: TaskUpdate,
    user: CurrentUser,
    database: DatabaseDep,
    users: UsersDep,
    version: ExpectedVersionDep,
    response: Response,
) -> TaskRead:
    """Change the fields given; the others stay. PUT and PATCH behave the same."""
    task = await database.run(
        service.update_task,
        task_id=task_id,
        data=data,
        actor=user,
        expected_version=version,
        users=users,
    )
    return _with_etag(task, response)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS)
async def delete_task(
    task_id: PathId, user: CurrentUser, database: DatabaseDep, version: ExpectedVersionDep
) -> Response:
    """Delete a task (its creator or an admin)."""
    await database.run(service.delete_task, task_id=task_id, actor=user, expected_version=version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
