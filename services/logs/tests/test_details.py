"""Every sentence an activity-log entry can say."""

from typing import Any

import pytest

from services.logs.details import describe
from services.logs.tests.factories import create_event
from shared.contracts.events import TaskEventType


def _updated(**changes: tuple[Any, Any]) -> str:
    return describe(create_event(event_type=TaskEventType.UPDATED, changes=changes))


def test_created_names_the_task() -> None:
    event = create_event(event_type=TaskEventType.CREATED, title="Write the report")

    assert describe(event) == 'Task "Write the report" created'


def test_deleted_names_the_task_as_it_was() -> None:
    event = create_event(event_type=TaskEventType.DELETED, title="Old chores")

    assert describe(event) == 'Task "Old chores" deleted'


@pytest.mark.parametrize(
    ("field", "old", "new", "sentence"),
    [
        ("title", "A", "B", 'Title changed from "A" to "B"'),
        ("description", "old text", "new text", "Description changed"),
        ("description", None, "some text", "Description added"),
        ("description", "", "some text", "Description added"),
        ("description", "some text", None, "Description cleared"),
        ("description", "some text", "", "Description cleared"),
        ("status", "todo", "in_progress", "Status changed to in_progress"),
        ("status", "in_progress", "done", "Status changed to done"),
        ("assignee_id", None, 5, "Assignee set to user 5"),
        ("assignee_id", 3, 5, "Assignee changed from user 3 to user 5"),
        ("assignee_id", 3, None, "Assignee removed"),
        ("due_date", None, "2025-12-01T00:00:00Z", "Due date set to 2025-12-01 00:00 UTC"),
        (
            "due_date",
            "2025-12-01T00:00:00Z",
            "2025-12-05T12:30:00Z",
            "Due date changed from 2025-12-01 00:00 UTC to 2025-12-05 12:30 UTC",
        ),
        ("due_date", "2025-12-01T00:00:00Z", None, "Due date removed"),
        ("due_date", None, "2025-12-01T01:00:00+01:00", "Due date set to 2025-12-01 00:00 UTC"),
        ("due_date", None, "2025-12-01T08:15:30Z", "Due date set to 2025-12-01 08:15:30 UTC"),
        ("due_date", None, "not a date", "Due date set to not a date"),
        ("priority", "low", "high", "Priority changed"),
    ],
)
def test_one_changed_field(field: str, old: Any, new: Any, sentence: str) -> None:
    assert _updated(**{field: (old, new)}) == sentence


def test_completed_at_is_not_told_apart_from_the_status() -> None:
    sentence = _updated(status=("in_progress", "done"), completed_at=(None, "2025-12-03T10:15:00Z"))

    assert sentence == "Status changed to done"


def test_several_fields_are_clauses_in_the_task_field_order() -> None:
    sentence = _updated(
        due_date=(None, "2025-12-01T00:00:00Z"),
        assignee_id=(None, 5),
        status=("todo", "in_progress"),
        description=("x", None),
        title=("A", "B"),
    )

    assert sentence == (
        'Title changed from "A" to "B"; Description cleared; Status changed to in_progress; '
        "Assignee set to user 5; Due date set to 2025-12-01 00:00 UTC"
    )


@pytest.mark.parametrize(
    "changes",
    [{}, {"completed_at": ("2025-12-03T10:15:00Z", None)}],
    ids=["no-changes", "only-implied"],
)
def test_an_update_with_nothing_to_tell_still_says_so(changes: dict[str, tuple[Any, Any]]) -> None:
    assert _updated(**changes) == "Task updated"
