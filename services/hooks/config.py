"""Hooks service settings, read once from the environment."""

from pydantic import Field

from shared.core.settings import ServiceSettings


class HooksSettings(ServiceSettings):
    """The common settings, plus how deliveries are made (docs/webhooks.md)."""

    # Receivers that may be on internal addresses, comma-separated: host names (exact) or
    # networks (CIDR, e.g. 10.1.0.0/16). Everything else must resolve to public addresses, and
    # in production be https.
    hooks_allowed_targets: str = ""
    # Seconds one attempt may take, connection included, before it counts as failed.
    hooks_attempt_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    # An endpoint whose attempts have all failed for this long is disabled.
    hooks_disable_after_days: float = Field(default=5.0, gt=0, le=60)
    # Attempts one dispatcher runs at once to one endpoint (a slow one never holds up others).
    hooks_endpoint_concurrency: int = Field(default=8, ge=1, le=100)
    # Deliveries a dispatcher claims at most per round, and attempts it runs at once in all.
    hooks_dispatch_batch_size: int = Field(default=100, ge=1, le=1000)
    hooks_max_in_flight: int = Field(default=200, ge=1, le=10_000)
    # Seconds between two looks for due deliveries when no NOTIFY wakes the dispatcher.
    hooks_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Hours a rotated-out secret still signs (beside the new one), unless the rotation says.
    hooks_secret_overlap_hours: float = Field(default=24.0, ge=0, le=24 * 30)
