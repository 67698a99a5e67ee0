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


# Every entry: the hub reads them all, then hands each to the streams whose filters match.
_ALL = LogFilters(period=None)


def newest(session: Session) -> tuple[str, int]:
    """The activity log's generation and its highest entry id: where a live process begins."""
    newest_id = repository.newest_id(session)
    return generation(session), newest_id


def generation(session: Session) -> str:
    """The generation of the activity log's table (`services/logs/cursor.py`)."""
    return str(session.scalar(repository.GENERATION))


def entries_after(session: Session, *, after: int, limit: int) -> tuple[str, list[dict[str, Any]]]:
    """Up to `limit` entries after the id `after`, in commit order, and the generation they are
    of (read after them: when a replay replaced the table meanwhile, the caller sees a new one)."""
    rows = repository.entries_after(session, after=after, limit=limit, filters=_ALL)
    return generation(session), rows


def backlog(
    session: Session, *, filters: LogFilters, after: int, limit: int
) -> list[dict[str, Any]]:
    """A resuming stream's next page: up to `limit` matching entries after the id `after`."""
    return repository.entries_after(session, after=after, limit=limit, filters=filters)


def resumable(session: Session, *, cursor_generation: str, entry_id: int) -> bool:
    """Whether a stream can resume after `entry_id`: the cursor is of this table and its entry
    is still kept (when it was pruned, what followed it may have been too)."""
    if cursor_generation != generation(session):
        return False
    return repository.has_entry(session, entry_id)


def matches(filters: LogFilters, row: dict[str, Any]) -> bool:
    """Whether an entry (its columns) passes a stream's filters."""
    return (
        (filters.task_id is None or row["task_id"] == filters.task_id)
        and (filters.user_id is None or row["user_id"] == filters.user_id)
        and (filters.action_type is None or row["action_type"] == filters.action_type.value)
    )
