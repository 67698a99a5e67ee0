"""Test data for the tasks service: keyword-only helpers with sensible defaults."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.tasks import repository
from services.tasks.models import OutboxEvent, Task
from shared.events import TaskStatus


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
    """A task stored in the test transaction, with no event (as if it predates the test)."""
    created_at = created_at or datetime.now(UTC)
    return repository.add_task(
        session,
        task=Task(
            title=title,
            description=description,
            status=status.value,
            creator_id=creator_id,
            assignee_id=assignee_id,
            due_date=due_date,
            created_at=created_at,
            updated_at=created_at,
            completed_at=created_at if status is TaskStatus.DONE else None,
            version=1,
        ),
    )


def outbox_events(session: Session, *, task_id: int | None = None) -> list[OutboxEvent]:
    """The outbox rows, oldest first."""
    query = select(OutboxEvent).order_by(OutboxEvent.id)
    if task_id is not None:
        query = query.where(OutboxEvent.task_id == task_id)
    return list(session.scalars(query))
