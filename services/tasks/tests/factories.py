"""Test data for the tasks service: keyword-only helpers with sensible defaults."""

from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from services.tasks import consumer, service
from services.tasks.models import OutboxEvent, Task, user_directory
from services.tasks.schemas import TaskCreate
from services.tasks.users import KnownUsers
from shared.contracts.events import TaskStatus, UserEvent
from shared.contracts.roles import Role
from shared.web.security import Principal
from tests.events import create_user_event

ACTOR = Principal(id=1, role=Role.USER)
# For writes that name no assignee: the directory is never asked.
UNUSED_USERS = KnownUsers()


def create_task(
    session: Session,
    *,
    title: str = "Write the report",
    description: str | None = None,
    status: TaskStatus = TaskStatus.TODO,
    creator_id: int = 1,
    assignee_id: int | None = None,
    due_date: datetime | None = None,
    created_at: datetime | None = None,
) -> Task:
    """A task stored in the test transaction, with no event (as if it predates the test).

    Committed (a savepoint in the API tests): a use case that ends its read before asking
    auth must not roll it back.
    """
    created_at = created_at or datetime.now(UTC)
    task_id = session.execute(
        insert(Task).returning(Task.id),
        {
            "title": title,
            "description": description,
            "status": status.value,
            "creator_id": creator_id,
            "assignee_id": assignee_id,
            "due_date": due_date,
            "created_at": created_at,
            "updated_at": created_at,
            "completed_at": created_at if status is TaskStatus.DONE else None,
            "version": 1,
        },
    ).scalar_one()
    task = session.get_one(Task, task_id)
    session.commit()
    return task


def create_user(session: Session, *, user_id: int, username: str | None = None) -> UserEvent:
    """A user in the tasks directory, as their `user.registered` event leaves them (committed)."""
    event = create_user_event(user_id=user_id, username=username)
    consumer.handle(session, event)
    session.commit()
    return event


def directory_users(session: Session) -> list[tuple[int, str, int]]:
    """The directory, as (id, username, version) by id."""
    table = user_directory
    rows = session.execute(select(table.c.id, table.c.username, table.c.version).order_by("id"))
    return [(user_id, username, version) for user_id, username, version in rows]


def outbox_events(session: Session, *, task_id: int | None = None) -> list[OutboxEvent]:
    """The outbox rows, oldest first."""
    query = select(OutboxEvent).order_by(OutboxEvent.id)
    if task_id is not None:
        query = query.where(OutboxEvent.task_id == task_id)
    return list(session.scalars(query))


def create_tasks(session: Session, count: int) -> list[int]:
    """Create and commit tasks through the service, each with its event; their ids."""
    ids = [
        service.create_task(
            session.connection(),
            data=TaskCreate(title=f"task {n}"),
            actor=ACTOR,
            users=UNUSED_USERS,
        ).id
        for n in range(count)
    ]
    session.commit()  # each create is its own statement, in autocommit in the service
    return ids
