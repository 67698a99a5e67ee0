"""Tasks service settings, read once from the environment."""

from pydantic import Field

from shared.settings import ServiceSettings


class TasksSettings(ServiceSettings):
    """Where auth answers user look-ups, and how the outbox relay publishes."""

    auth_url: str = "http://127.0.0.1:8001"
    relay_batch_size: int = Field(default=100, ge=1, le=10_000)
    relay_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    relay_retry_seconds: float = Field(default=2.0, gt=0, le=300)
