"""The KPI consumer: folds task events into the `kpi` read model.

    python -m services.kpi.consumer

Reads the durable queue `kpi.task-events` (bound to the events exchange); see
`shared/consumer.py` for acks, retries and the dead-letter queue `kpi.task-events.dead`.
"""

import structlog
from sqlalchemy.orm import Session

from services.kpi import service
from services.kpi.config import KpiSettings
from services.kpi.models import processed_event
from shared.consumer import run_consumer
from shared.events import TaskEvent

QUEUE = "kpi.task-events"
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


def main() -> None:
    """Run the consumer until SIGINT or SIGTERM."""
    run_consumer(
        service="kpi-consumer",
        settings=KpiSettings(),
        queue=QUEUE,
        processed=processed_event,
        handler=handle,
    )


if __name__ == "__main__":
    main()
