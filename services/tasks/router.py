"""Thin HTTP endpoints of the tasks service: parse, call one service function, answer."""

from fastapi import APIRouter, Request, Response, status

from services.tasks import service
from services.tasks.deps import ExpectedVersionDep, TaskFiltersDep, UsersDep
from services.tasks.models import Task
from services.tasks.schemas import TaskCreate, TaskRead, TaskUpdate
from shared.db import SessionDep
from shared.errors import ErrorResponse
from shared.ids import PathId
from shared.months import MonthDep
from shared.pagination import Page, PageDep
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


def _read(task: Task, response: Response) -> TaskRead:
    response.headers["ETag"] = f'"{task.version}"'
    return TaskRead.model_validate(task)


@router.post(
    "/", status_code=status.HTTP_201_CREATED, response_model=TaskRead, responses=_WRITE_ERRORS
)
def create_task(
    data: TaskCreate,
    user: CurrentUser,
    session: SessionDep,
    users: UsersDep,
    request: Request,
    response: Response,
) -> TaskRead:
    """Create a task; the caller is its creator."""
    task = service.create_task(session, data=data, actor=user, users=users)
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/tasks/{task.id}"
    return _read(task, response)


@router.get("/", response_model=Page[TaskRead])
def list_tasks(
    _: CurrentUser, session: SessionDep, month: MonthDep, filters: TaskFiltersDep, page: PageDep
) -> Page[TaskRead]:
    """Tasks created in a month (UTC; the current one by default), filtered and sorted."""
    return service.list_tasks(session, month=month, filters=filters, params=page)


@router.get("/{task_id}", response_model=TaskRead, responses={404: _WRITE_ERRORS[404]})
def get_task(task_id: PathId, _: CurrentUser, session: SessionDep, response: Response) -> TaskRead:
    """One task, with its version as the ETag."""
    return _read(service.get_task(session, task_id=task_id), response)


@router.put("/{task_id}", response_model=TaskRead, responses=_WRITE_ERRORS)
@router.patch("/{task_id}", response_model=TaskRead, responses=_WRITE_ERRORS)
def update_task(
    task_id: PathId,
    data: TaskUpdate,
    user: CurrentUser,
    session: SessionDep,
    users: UsersDep,
    version: ExpectedVersionDep,
    response: Response,
) -> TaskRead:
    """Change the fields given; the others stay. PUT and PATCH behave the same."""
    task = service.update_task(
        session, task_id=task_id, data=data, actor=user, expected_version=version, users=users
    )
    return _read(task, response)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS)
def delete_task(
    task_id: PathId, user: CurrentUser, session: SessionDep, version: ExpectedVersionDep
) -> Response:
    """Delete a task (its creator or an admin)."""
    service.delete_task(session, task_id=task_id, actor=user, expected_version=version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
