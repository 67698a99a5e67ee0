"""Task use cases. Each is one transaction, committed here, with its event in the outbox."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from services.tasks import policy, repository
from services.tasks.models import Task
from services.tasks.schemas import SortOrder, TaskCreate, TaskFilters, TaskRead, TaskUpdate
from services.tasks.users import KnownUsers
from shared.contracts.events import FieldChange, TaskEvent, TaskEventType, TaskSnapshot, TaskStatus
from shared.core.errors import InvalidFieldError, NotFoundError, PreconditionFailedError
from shared.web.months import MonthRange
from shared.web.pagination import Keyset, PageParams, paginate_json
from shared.web.security import Principal

# Bookkeeping that changes on every write; not reported as a changed field.
_UNREPORTED = {"updated_at", "version"}
_NEW_ID = 0  # a created task's id in its event until the database numbers the task


def create_task(
    connection: Connection, *, data: TaskCreate, actor: Principal, users: KnownUsers
) -> TaskRead:
    """Create a task owned by `actor`: the task and its event in one statement (`Database.write`:
    one round trip, no BEGIN and COMMIT). The event is written before the database numbers the
    task, with the id 0, which that statement replaces by the new id."""
    if data.imports_history:
        policy.ensure_can_import(actor)
    if data.assignee_id is not None:
        users.ensure_exists(connection, data.assignee_id, field="assignee_id")
    now = datetime.now(UTC)
    created_at = data.created_at or now
    done = data.status is TaskStatus.DONE
    completed_at = (data.completed_at or created_at) if done else None
    values = {
        "title": data.title,
        "description": data.description,
        "status": data.status.value,
        "assignee_id": data.assignee_id,
        "creator_id": actor.id,
        "due_date": data.due_date,
        "created_at": created_at,
        # An imported done task's last change is its completion: no later change predates it.
        "updated_at": completed_at or created_at,
        "completed_at": completed_at,
        "version": 1,
    }
    # The values are stored as given (times in UTC, text as validated), so the event's snapshot
    # is the stored row but for its id.
    snapshot = TaskSnapshot.model_validate({"id": _NEW_ID, **values})
    event = _event(TaskEventType.CREATED, snapshot=snapshot, version=1, actor=actor, at=created_at)
    stored = repository.insert_task_with_event(connection, values=values, event=event)
    return TaskRead.model_validate(stored)


def get_task(connection: Connection, *, task_id: int) -> TaskRead:
    """The task; 404 if there is none."""
    task = repository.read_task(connection, task_id=task_id)
    if task is None:
        raise NotFoundError("No task has this id.")
    return TaskRead.model_validate(task)


def list_tasks(
    connection: Connection, *, month: MonthRange, filters: TaskFilters, params: PageParams
) -> bytes:
    """A page of the tasks created in `month` that match `filters`: `Page[TaskRead]` as JSON,
    built by PostgreSQL (a task is answered as it is stored)."""
    scope = f"tasks:{month.start.date()}:{filters.model_dump_json()}"
    keyset = Keyset(
        repository.sort_key(filters), descending=filters.order is SortOrder.DESC, scope=scope
    )
    return paginate_json(
        connection,
        repository.tasks_query(month=month, filters=filters),
        keyset=keyset,
        params=params,
        item_type=TaskRead,
    )


def update_task(
    session: Session,
    *,
    task_id: int,
    data: TaskUpdate,
    actor: Principal,
    expected_versions: frozenset[int] | None,
    users: KnownUsers,
) -> TaskRead:
    """Change the fields given. A request that changes nothing is not a write (no event)."""
    changes: dict[str, Any] = data.changes()
    if data.changed_at is not None:
        policy.ensure_can_import(actor)
    if changes.get("assignee_id") is not None:
        users.ensure_exists(session, changes["assignee_id"], field="assignee_id")
    task = _get_for_write(session, task_id=task_id)
    policy.ensure_can_update(actor, task)
    _check_version(task, expected_versions)
    before = _snapshot(task)
    now = _moment_of_change(task, data.changed_at)
    for name, value in changes.items():
        setattr(task, name, value.value if isinstance(value, TaskStatus) else value)
    if "status" in changes and task.status != before.status:
        task.completed_at = now if task.status == TaskStatus.DONE else None
    diff = _diff(before, _snapshot(task))
    if not diff:
        unchanged = TaskRead.model_validate(task)
        session.rollback()
        return unchanged
    task.updated_at = now
    task.version += 1
    session.flush()
    event = _event(
        TaskEventType.UPDATED,
        snapshot=_snapshot(task),
        version=task.version,
        actor=actor,
        at=now,
        changes=diff,
    )
    repository.add_outbox_event(session, event=event)
    session.commit()
    return TaskRead.model_validate(task)


def delete_task(
    session: Session, *, task_id: int, actor: Principal, expected_versions: frozenset[int] | None
) -> None:
    """Delete the task; its event carries the task as it was, and the next version."""
    task = _get_for_write(session, task_id=task_id)
    policy.ensure_can_delete(actor, task)
    _check_version(task, expected_versions)
    snapshot = _snapshot(task)
    repository.delete_task(session, task=task)
    event = _event(
        TaskEventType.DELETED,
        snapshot=snapshot,
        version=snapshot.version + 1,
        actor=actor,
        at=datetime.now(UTC),
    )
    repository.add_outbox_event(session, event=event)
    session.commit()


def _get_for_write(session: Session, *, task_id: int) -> Task:
    """The task, locked until commit so concurrent writes apply one after the other."""
    task = repository.get_task(session, task_id=task_id, for_update=True)
    if task is None:
        raise NotFoundError("No task has this id.")
    return task


def _moment_of_change(task: Task, changed_at: datetime | None) -> datetime:
    """When the change happened: now, or an imported moment no earlier than the last change nor
    the completion (so each task's events, and its moves between statuses, keep their order)."""
    if changed_at is None:
        return datetime.now(UTC)
    # `completed_at` too: earlier releases stored an imported done task with `updated_at` at
    # its creation.
    last = max(task.updated_at, task.completed_at or task.updated_at)
    if changed_at < last:
        raise InvalidFieldError(
            field="changed_at",
            message=f"cannot be before the task's last change or completion ({last.isoformat()})",
        )
    return changed_at


def _check_version(task: Task, expected_versions: frozenset[int] | None) -> None:
    """412 when the client's `If-Match` does not name the current version."""
    if expected_versions is not None and task.version not in expected_versions:
        raise PreconditionFailedError(
            f'If-Match does not name the current version, "{task.version}": read the task again.'
        )


def _snapshot(task: Task) -> TaskSnapshot:
    return TaskSnapshot.model_validate(task, from_attributes=True)


def _diff(before: TaskSnapshot, after: TaskSnapshot) -> dict[str, FieldChange]:
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {
        name: FieldChange(old=old[name], new=new[name])
        for name in new
        if name not in _UNREPORTED and old[name] != new[name]
    }


def _event(
    event_type: TaskEventType,
    *,
    snapshot: TaskSnapshot,
    version: int,
    actor: Principal,
    at: datetime,
    changes: dict[str, FieldChange] | None = None,
) -> TaskEvent:
    return TaskEvent(
        event_id=uuid.uuid4(),
        event_type=event_type,
        occurred_at=at,
        actor_id=actor.id,
        task_id=snapshot.id,
        version=version,
        task=snapshot,
        changes=changes or {},
    )
