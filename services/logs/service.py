"""Activity-log use cases.

An event's entry is written by the event consumer, in the statement that records the event's
id in `processed_event` (`shared.messaging.applying.RowPerEvent`), and acked only after that.
"""

from typing import Any

from sqlalchemy.orm import Session

from services.logs import details, repository
from services.logs.models import ActionType
from services.logs.schemas import LogEntryRead, LogFilters
from shared.contracts.events import TaskEvent, TaskEventType
from shared.web.pagination import Keyset, Page, PageParams, paginate

_ACTIONS = {
    TaskEventType.CREATED: ActionType.TASK_CREATED,
    TaskEventType.UPDATED: ActionType.TASK_UPDATED,
    TaskEventType.DELETED: ActionType.TASK_DELETED,
}


def entry_of(event: TaskEvent) -> dict[str, Any]:
    """The activity-log entry of one event, as column values (`repository.ENTRY_COLUMNS`)."""
    return {
        "event_id": event.event_id,
        "task_id": event.task_id,
        "user_id": event.actor_id,
        "action_type": _ACTIONS[event.event_type],
        "detail": details.describe(event),
        "created_at": event.occurred_at,
    }


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
