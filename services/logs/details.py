"""The human sentence of an activity-log entry: what an event did to its task.

task.created  ->  Task "Write the report" created
task.deleted  ->  Task "Write the report" deleted
task.updated  ->  one clause per changed field, joined with "; ", e.g.
                  Status changed to done; Assignee changed from user 3 to user 5
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.contracts.events import FieldChange, TaskEvent, TaskEventType

# Changes that follow from another one (`completed_at` from `status`), or bookkeeping.
_IMPLIED = {"completed_at", "updated_at", "version"}


def describe(event: TaskEvent) -> str:
    """The sentence for one task event."""
    if event.event_type is TaskEventType.CREATED:
        return f'Task "{event.task.title}" created'
    if event.event_type is TaskEventType.DELETED:
        return f'Task "{event.task.title}" deleted'
    return describe_changes(event.changes)


def describe_changes(changes: dict[str, FieldChange]) -> str:
    """One clause per changed field, in the task's field order; `Task updated` if none is told."""
    clauses = [_CLAUSES[name](changes[name]) for name in _CLAUSES if name in changes]
    clauses += [
        f"{name.replace('_', ' ').capitalize()} changed"
        for name in changes
        if name not in _CLAUSES and name not in _IMPLIED
    ]
    return "; ".join(clauses) or "Task updated"


def _title(change: FieldChange) -> str:
    return f'Title changed from "{change.old}" to "{change.new}"'


def _description(change: FieldChange) -> str:
    if not change.new:
        return "Description cleared"
    if not change.old:
        return "Description added"
    return "Description changed"


def _status(change: FieldChange) -> str:
    return f"Status changed to {change.new}"


def _assignee(change: FieldChange) -> str:
    return _set_changed_removed("Assignee", change, lambda user_id: f"user {user_id}")


def _due_date(change: FieldChange) -> str:
    return _set_changed_removed("Due date", change, _moment)


def _set_changed_removed(label: str, change: FieldChange, show: Callable[[Any], str]) -> str:
    if change.new is None:
        return f"{label} removed"
    if change.old is None:
        return f"{label} set to {show(change.new)}"
    return f"{label} changed from {show(change.old)} to {show(change.new)}"


def _moment(value: Any) -> str:
    """`2025-12-01 00:00 UTC` (seconds only when there are some); an unreadable value as is."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    pattern = "%Y-%m-%d %H:%M" if moment.second == moment.microsecond == 0 else "%Y-%m-%d %H:%M:%S"
    return f"{moment.strftime(pattern)} UTC"


_CLAUSES: dict[str, Callable[[FieldChange], str]] = {
    "title": _title,
    "description": _description,
    "status": _status,
    "assignee_id": _assignee,
    "due_date": _due_date,
}
