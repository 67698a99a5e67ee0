"""The logs consumer: one activity-log entry per task event.

python -m services.logs.consumer   # reads the durable queue `logs.task-events`
"""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from services.logs import service
from services.logs.config import LogsSettings
from services.logs.models import processed_event
from shared.events import TASK_EVENTS, TaskEvent
from shared.rebuild import ReadModel
from shared.subscriptions import Subscription, run_consumers

QUEUE = "logs.task-events"


def handle(session: Session, event: TaskEvent) -> None:
    """Add the event's entry; `EventConsumer.process` commits it with the event's id."""
    service.record_event(session, event=event)


def handle_batch(session: Session, events: Sequence[TaskEvent]) -> None:
    """Add the entries of several events at once (what the consumer does with a batch)."""
    service.record_events(session, events=events)


def subscriptions(settings: LogsSettings) -> list[Subscription[TaskEvent]]:
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


def read_model(settings: LogsSettings) -> ReadModel:
    """What a replay rebuilds (`manage replay-start`): these tables, from these queues."""
    return ReadModel.whole_schema(processed_event, subscriptions(settings))


if __name__ == "__main__":
    settings = LogsSettings()
    run_consumers(
        service="logs-consumer",
        settings=settings,
        processed=processed_event,
        subscriptions=subscriptions(settings),
    )
