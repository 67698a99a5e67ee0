"""Who may change what: the one place the tasks service decides it."""

from services.tasks.models import Task
from shared.core.errors import ForbiddenError
from shared.web.security import Principal


def can_update(user: Principal, task: Task) -> bool:
    """The creator, the assignee or an admin may update a task."""
    return user.is_admin or user.id in (task.creator_id, task.assignee_id)


def can_delete(user: Principal, task: Task) -> bool:
    """The creator or an admin may delete a task."""
    return user.is_admin or user.id == task.creator_id


def ensure_can_update(user: Principal, task: Task) -> None:
    if not can_update(user, task):
        raise ForbiddenError("Only the task's creator, its assignee or an admin may change it.")


def ensure_can_delete(user: Principal, task: Task) -> None:
    if not can_delete(user, task):
        raise ForbiddenError("Only the task's creator or an admin may delete it.")


def ensure_can_import(user: Principal) -> None:
    """Only an admin may date a write (`created_at`, `completed_at`, `changed_at`): imports."""
    if not user.is_admin:
        raise ForbiddenError("Only an admin may set created_at, completed_at or changed_at.")
