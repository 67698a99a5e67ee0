"""The auth outbox relay: `auth.outbox` -> the exchange `auth.events` (see
`shared/messaging/relay.py`).

python -m services.auth.relay
"""

from services.auth.config import AuthSettings
from services.auth.models import OUTBOX
from shared.messaging.relay import RelayConfig, run_relay


def relay_config(settings: AuthSettings) -> RelayConfig:
    """The relay of the user events, as the settings configure it."""
    return RelayConfig.from_settings(
        settings, outbox=OUTBOX, exchange=settings.user_events_exchange
    )


if __name__ == "__main__":
    settings = AuthSettings()
    run_relay(service="auth-relay", settings=settings, config=relay_config(settings))
