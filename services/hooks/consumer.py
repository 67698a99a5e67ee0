"""The hooks consumer: each task event becomes one pending delivery per endpoint that wants it.

python -m services.hooks.consumer   # reads the durable queue `hooks.task-events`

Idempotent as every consumer: the event's id is claimed in `processed_event` in the same
transaction as its deliveries, and a delivery is unique per (endpoint, event), so a
redelivered event adds nothing. The commit NOTIFYs the dispatchers (`dispatcher.py`).
"""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from services.hooks import messages, repository
from services.hooks.config import HooksSettings
from services.hooks.models import processed_event
from shared.contracts.events import TASK_EVENTS, TaskEvent
from shared.messaging.subscriptions import Subscription, run_consumers

QUEUE = "hooks.task-events"


def handle_batch(session: Session, events: Sequence[TaskEvent]) -> None:
    """The deliveries of several events, in one statement."""
    repository.add_deliveries(
        session,
        events=[
            (event.event_id, event.event_type.value, messages.event_body(event)) for event in events
        ],
    )


def handle(session: Session, event: TaskEvent) -> None:
    """The deliveries of one event."""
    handle_batch(session, [event])


def subscriptions(settings: HooksSettings) -> list[Subscription[TaskEvent]]:
    """The queue this consumer reads: every task event."""
    return [
        Subscription(
            queue=QUEUE,
            exchange=settings.events_exchange,
            binding_key=TASK_EVENTS,
            model=TaskEvent,
            handler=handle,
            batch_handler=handle_batch,
        )
    ]


if __name__ == "__main__":
    settings = HooksSettings()
    run_consumers(
        service="hooks-consumer",
        settings=settings,
        processed=processed_event,
        subscriptions=subscriptions(settings),
    )
