"""The logs consumer: one activity-log entry per task event.

python -m services.logs.consumer   # reads the durable queue `logs.task-events`
"""

from services.logs import repository, service
from services.logs.config import LogsSettings
from services.logs.models import ActivityLog, processed_event
from shared.contracts.events import TASK_EVENTS, TaskEvent
from shared.core.db import table_of
from shared.messaging.applying import RowPerEvent
from shared.messaging.rebuild import ReadModel
from shared.messaging.subscriptions import Subscription, run_consumers

QUEUE = "logs.task-events"
# Each event is one entry, written in the statement that claims it (no handler, no transaction).
ENTRIES = RowPerEvent[TaskEvent](
    table=table_of(ActivityLog), columns=repository.ENTRY_COLUMNS, row=service.entry_of
)


def subscriptions(settings: LogsSettings) -> list[Subscription[TaskEvent]]:
    """The queue this consumer reads: every task event."""
    return [
        Subscription(
            queue=QUEUE,
            exchange=settings.events_exchange,
            binding_key=TASK_EVENTS,
            model=TaskEvent,
            rows=ENTRIES,
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
