"""`GET /kpi/by-user`: per-assignee counts, named from the KPI service's own user directory."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kpi.consumer import handle_user_event
from services.kpi.models import user_directory
from services.kpi.tests.conftest import Fetch
from services.kpi.tests.factories import apply_events, create_event, create_next_event, create_user
from shared.contracts.events import FieldChange, TaskEvent, TaskStatus, UserEvent
from shared.messaging.applying import Outcome
from shared.messaging.consumer import EventConsumer
from tests.events import create_user_event, event_body

JUNE = {"year": 2025, "month": 6}


def at(month: int) -> datetime:
    return datetime(2025, month, 10, tzinfo=UTC)


def by_user_events() -> list[TaskEvent]:
    """June: user 2 has todo, done, done; user 3 in progress; two unassigned (todo, done)."""
    moved = create_event(created_at=at(6), assignee_id=3, status=TaskStatus.DONE)
    return [
        create_event(created_at=at(6), assignee_id=2),
        create_event(created_at=at(6), assignee_id=2, status=TaskStatus.DONE),
        moved,
        create_next_event(after=moved, assignee_id=2),  # now user 2's
        create_event(created_at=at(6), assignee_id=3, status=TaskStatus.IN_PROGRESS),
        create_event(created_at=at(6)),
        create_event(created_at=at(6), status=TaskStatus.DONE),
        create_event(created_at=at(7), assignee_id=4),  # another month
    ]


def names(fetch: Fetch, month: dict[str, int] = JUNE) -> list[tuple[int | None, str | None]]:
    return [
        (item["assignee_id"], item["username"]) for item in fetch("/kpi/by-user", **month)["items"]
    ]


def test_by_user_counts_each_assignee_and_the_unassigned(fetch: Fetch, session: Session) -> None:
    create_user(session, user_id=2, username="ada")
    create_user(session, user_id=3, username="grace")
    apply_events(session, *by_user_events())

    body = fetch("/kpi/by-user", **JUNE)

    assert body["items"] == [
        {"assignee_id": 2, "username": "ada", "total": 3, "done": 2, "in_progress": 0,
         "todo": 1, "completion_rate": 2 / 3},
        {"assignee_id": 3, "username": "grace", "total": 1, "done": 0, "in_progress": 1,
         "todo": 0, "completion_rate": 0.0},
        {"assignee_id": None, "username": None, "total": 2, "done": 1, "in_progress": 0,
         "todo": 1, "completion_rate": 0.5},
    ]  # fmt: skip


def test_an_assignee_whose_user_event_has_not_arrived_has_no_name_yet(
    fetch: Fetch, session: Session
) -> None:
    create_user(session, user_id=2, username="ada")
    apply_events(session, *by_user_events())

    assert names(fetch) == [(2, "ada"), (3, None), (None, None)]

    create_user(session, user_id=3, username="grace")  # its event arrives

    assert names(fetch) == [(2, "ada"), (3, "grace"), (None, None)]


def test_a_renamed_user_is_shown_with_the_new_name(fetch: Fetch, session: Session) -> None:
    create_user(session, user_id=2, username="ada")
    apply_events(session, create_event(created_at=at(6), assignee_id=2))
    renamed = create_user_event(
        user_id=2,
        username="ada.lovelace",
        version=2,
        changes={"username": FieldChange(old="ada", new="ada.lovelace")},
    )
    handle_user_event(session, renamed)
    session.commit()

    assert names(fetch) == [(2, "ada.lovelace")]


def test_duplicate_and_out_of_order_user_events_change_nothing(
    fetch: Fetch, session: Session, consumer: EventConsumer[TaskEvent]
) -> None:
    registered = create_user_event(user_id=2, username="ada", version=1)
    renamed = create_user_event(user_id=2, username="ada.lovelace", version=2)
    user_consumer = EventConsumer(
        consumer.config,
        model=UserEvent,
        database=consumer.database,
        processed=consumer.processed,
        handler=handle_user_event,
    )
    apply_events(session, create_event(created_at=at(6), assignee_id=2))

    outcomes = [
        user_consumer.process(event_body(event)) for event in (renamed, registered, renamed)
    ]

    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED, Outcome.DUPLICATE]
    assert names(fetch) == [(2, "ada.lovelace")]  # the older registration did not roll it back
    stored = session.execute(select(user_directory.c.username, user_directory.c.version)).all()
    assert [tuple(row) for row in stored] == [("ada.lovelace", 2)]


def test_by_user_needs_no_user_directory_when_there_are_no_assignees(
    fetch: Fetch, session: Session
) -> None:
    apply_events(session, create_event(created_at=at(9)))

    items = fetch("/kpi/by-user", year=2025, month=9)["items"]

    assert [(item["assignee_id"], item["total"]) for item in items] == [(None, 1)]
