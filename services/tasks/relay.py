"""The tasks outbox relay: `tasks.outbox` -> the exchange `tasks.events` (see
`shared/messaging/relay.py`).

python -m services.tasks.relay
"""

from services.tasks.config import TasksSettings
from services.tasks.models import OUTBOX
from shared.messaging.relay import RelayConfig, run_relay


def relay_config(settings: TasksSettings) -> RelayConfig:
    """The relay of the task events, as the settings configure it."""
    return RelayConfig.from_settings(settings, outbox=OUTBOX, exchange=settings.events_exchange)


if __name__ == "__main__":
    settings = TasksSettings()
    run_relay(service="tasks-relay", settings=settings, config=relay_config(settings))
