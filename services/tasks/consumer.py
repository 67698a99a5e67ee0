"""The tasks consumer of user events: keeps the `tasks.user` directory the assignee check reads.

    python -m services.tasks.consumer

Reads the durable queue `tasks.user-events` (bound to `auth.events` with `user.#`); see
`shared/messaging/consumer.py` for acks, retries and the dead-letter queue `tasks.user-events.dead`.
"""

import structlog
from sqlalchemy.orm import Session

from services.tasks.config import TasksSettings
from services.tasks.models import SCHEMA, processed_event, user_directory
from shared.contracts.events import USER_EVENTS, UserEvent
from shared.messaging import directory
from shared.messaging.rebuild import ReadModel
from shared.messaging.subscriptions import Subscription, run_consumers

QUEUE = "tasks.user-events"
logger = structlog.get_logger(__name__)


def handle(session: Session, event: UserEvent) -> None:
    """Keep the user; an event older than the one applied changes nothing."""
    if not directory.apply_user_event(session, user_directory, event=event):
        logger.info(
            "event_superseded",
            event_id=str(event.event_id),
            user_id=event.user_id,
            version=event.version,
        )


def subscriptions(settings: TasksSettings) -> list[Subscription[UserEvent]]:
    """The queue this consumer reads: every user event."""
    return [
        Subscription(
            queue=QUEUE,
            exchange=settings.user_events_exchange,
            binding_key=USER_EVENTS,
            model=UserEvent,
            handler=handle,
        )
    ]


def read_model(settings: TasksSettings) -> ReadModel:
    """What a replay rebuilds (`manage replay-start`): these tables, from these queues."""
    return ReadModel(
        schema=SCHEMA,
        tables=[user_directory, processed_event],
        processed=processed_event,
        subscriptions=subscriptions(settings),
    )


if __name__ == "__main__":
    settings = TasksSettings()
    run_consumers(
        service="tasks-consumer",
        settings=settings,
        processed=processed_event,
        subscriptions=subscriptions(settings),
    )
