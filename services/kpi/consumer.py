"""The KPI consumer: folds task events into the `kpi` read model, user events into its directory.

    python -m services.kpi.consumer

One process, two consumers: the durable queue `kpi.task-events` (bound to `tasks.events`) and
`kpi.user-events` (bound to `auth.events`); see `shared/messaging/consumer.py` for acks, retries and
the dead-letter queues `kpi.task-events.dead` and `kpi.user-events.dead`.
"""

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy.orm import Session

from services.kpi import service
from services.kpi.config import KpiSettings
from services.kpi.models import processed_event, user_directory
from shared.contracts.events import TASK_EVENTS, USER_EVENTS, TaskEvent, UserEvent
from shared.messaging import directory
from shared.messaging.rebuild import ReadModel
from shared.messaging.subscriptions import Subscription, run_consumers

QUEUE = "kpi.task-events"
USER_QUEUE = "kpi.user-events"
logger = structlog.get_logger(__name__)


def handle(session: Session, event: TaskEvent) -> None:
    """Apply one task event; `EventConsumer.process` commits it with the event's id."""
    if not service.apply_event(session, event=event):
        logger.info(
            "event_superseded",
            event_id=str(event.event_id),
            task_id=event.task_id,
            version=event.version,
        )


def handle_batch(session: Session, events: Sequence[TaskEvent]) -> None:
    """Apply several task events at once (what the consumer does with a batch)."""
    for event in service.apply_events(session, events=events):
        logger.info(
            "event_superseded",
            event_id=str(event.event_id),
            task_id=event.task_id,
            version=event.version,
        )


def handle_user_event(session: Session, event: UserEvent) -> None:
    """Keep the user's username; an event older than the one applied changes nothing."""
    if not directory.apply_user_event(session, user_directory, event=event):
        logger.info(
            "event_superseded",
            event_id=str(event.event_id),
            user_id=event.user_id,
            version=event.version,
        )


def subscriptions(settings: KpiSettings) -> list[Subscription[Any]]:
    """The queues this process reads: every task event, and every user event."""
    return [
        Subscription(
            queue=QUEUE,
            exchange=settings.events_exchange,
            binding_key=TASK_EVENTS,
            model=TaskEvent,
            handler=handle,
            batch_handler=handle_batch,
        ),
        Subscription(
            queue=USER_QUEUE,
            exchange=settings.user_events_exchange,
            binding_key=USER_EVENTS,
            model=UserEvent,
            handler=handle_user_event,
        ),
    ]


def read_model(settings: KpiSettings) -> ReadModel:
    """What a replay rebuilds (`manage replay-start`): these tables, from these queues."""
    return ReadModel.whole_schema(processed_event, subscriptions(settings))


def main() -> None:
    """Run both consumers until SIGINT or SIGTERM."""
    settings = KpiSettings()
    run_consumers(
        service="kpi-consumer",
        settings=settings,
        processed=processed_event,
        subscriptions=subscriptions(settings),
    )


if __name__ == "__main__":
    main()
