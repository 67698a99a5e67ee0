"""Activity-log use cases.

Recording an event does not commit: the event consumer commits the entry together with the
event's id in `processed_event`, in one transaction, and acks only after that.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from services.logs import details, repository
from services.logs.models import ActionType, ActivityLog
from services.logs.schemas import LogEntryRead, LogFilters
from shared.events import TaskEvent, TaskEventType
from shared.pagination import Keyset, Page, PageParams, paginate

_ACTIONS = {
    TaskEventType.CREATED: ActionType.TASK_CREATED,
    TaskEventType.UPDATED: ActionType.TASK_UPDATED,
    TaskEventType.DELETED: ActionType.TASK_DELETED,
}


def _entry(event: TaskEvent) -> dict[str, Any]:
    """The activity-log entry of one event, as column values."""
    return {
        "event_id": event.event_id,
        "task_id": event.task_id,
        "user_id": event.actor_id,
        "action_type": _ACTIONS[event.event_type],
        "detail": details.describe(event),
        "created_at": event.occurred_at,
    }


def record_event(session: Session, *, event: TaskEvent) -> ActivityLog | None:
    """Add the event's entry in the caller's transaction; `None` if it has one already."""
    return repository.add_entry(session, **_entry(event))


def record_events(session: Session, *, events: Sequence[TaskEvent]) -> None:
    """Add the entries of several events in one statement, in the caller's transaction."""
    repository.add_entries(session, entries=[_entry(event) for event in events])


def list_entries(
    session: Session, *, filters: LogFilters, params: PageParams
) -> Page[LogEntryRead]:
    """A page of the entries that match `filters`, newest first."""
    keyset = Keyset(repository.SORT_KEY, descending=True, scope=f"logs:{filters.model_dump_json()}")
    return paginate(
        session,
        repository.entries_query(filters=filters),
        keyset=keyset,
        params=params,
        page_type=Page[LogEntryRead],
    )
