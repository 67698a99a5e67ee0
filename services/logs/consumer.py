"""The logs consumer: one activity-log entry per task event.

python -m services.logs.consumer   # reads the durable queue `logs.task-events`
"""

from sqlalchemy.orm import Session

from services.logs import service
from services.logs.config import LogsSettings
from services.logs.models import processed_event
from shared.consumer import run_consumer
from shared.events import TaskEvent

QUEUE = "logs.task-events"


def handle(session: Session, event: TaskEvent) -> None:
    """Add the event's entry; `EventConsumer.process` commits it with the event's id."""
    service.record_event(session, event=event)


if __name__ == "__main__":
    run_consumer(
        service="logs-consumer",
        settings=LogsSettings(),
        queue=QUEUE,
        processed=processed_event,
        handler=handle,
    )
