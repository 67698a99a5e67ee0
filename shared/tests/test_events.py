"""The user event contract, as the producer (auth) writes it and the consumers read it."""

import pytest

from shared.contracts.events import UserEvent, UserEventType
from shared.messaging.applying import PoisonMessageError, parse_event
from tests.events import create_snapshot, create_task_event, create_user_event, event_body


def test_a_user_event_reads_back_as_it_was_written() -> None:
    event = create_user_event(user_id=3, username="ada", version=2)

    assert parse_event(event_body(event), UserEvent) == event
    assert event.event_type is UserEventType.UPDATED


@pytest.mark.parametrize(
    "body",
    [
        event_body(create_user_event()).replace(b'"schema_version":1', b'"schema_version":2'),
        event_body(create_task_event(task=create_snapshot())),  # a task event is no user event
        event_body(create_user_event()).replace(b'"role":"user"', b'"role":"root"'),
    ],
    ids=["unknown-version", "task-event", "unknown-role"],
)
def test_what_a_user_consumer_cannot_read_is_poison(body: bytes) -> None:
    with pytest.raises(PoisonMessageError):
        parse_event(body, UserEvent)


def test_an_email_never_travels_in_a_user_event() -> None:
    payload = create_user_event().model_dump(mode="json")

    assert set(payload["user"]) == {"id", "username", "role"}
