"""The hooks consumer: each task event becomes one pending delivery per endpoint that wants it.

python -m services.hooks.consumer   # reads the durable queue `hooks.task-events`

Idempotent as every consumer: the event's id is claimed in `processed_event` in the statement
that adds its deliveries, and a delivery is unique per (endpoint, event), so a redelivered
event adds nothing. That statement NOTIFYs the dispatchers (`dispatcher.py`) when it added any.
"""

from typing import Any

from services.hooks import messages, repository
from services.hooks.config import HooksSettings
from services.hooks.models import processed_event
from shared.contracts.events import TASK_EVENTS, TaskEvent
from shared.messaging.applying import ClaimingStatement
from shared.messaging.subscriptions import Subscription, run_consumers

QUEUE = "hooks.task-events"


def _row(event: TaskEvent) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "event_type": event.event_type.value,
        "body": messages.event_body(event),
    }


# A batch is one autocommit statement: the claim, the deliveries, the dispatchers' wake-up.
FAN_OUT = ClaimingStatement[TaskEvent](
    repository.CLAIM_AND_FAN_OUT, columns=["event_id", "event_type", "body"], row=_row
)


def subscriptions(settings: HooksSettings) -> list[Subscription[TaskEvent]]:
    """The queue this consumer reads: every task event."""
    return [
        Subscription(
            queue=QUEUE,
            exchange=settings.events_exchange,
            binding_key=TASK_EVENTS,
            model=TaskEvent,
            rows=FAN_OUT,
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
