"""Settings every service shares, read from the environment (and a local `.env`)."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/efficient"
# Longer than any copy of an event can still arrive after the first (docs/retention.md).
MIN_PROCESSED_EVENT_RETENTION_DAYS = 7


class ServiceSettings(BaseSettings):
    """Configuration common to all services; each service subclasses it."""

    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", frozen=True
    )

    environment: Literal["local", "test", "production"] = "local"
    database_url: str = DEFAULT_DATABASE_URL
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    events_exchange: str = "tasks.events"  # task events: tasks publishes, logs and kpi read
    user_events_exchange: str = "auth.events"  # user events: auth publishes, tasks and kpi read
    # Connections per process, and as many database threads (see `shared.core.db.Database`).
    db_pool_size: int = Field(default=5, ge=1, le=100)
    # Requests that may wait for a database thread before the answer is 503 + Retry-After.
    db_queue_limit: int = Field(default=1000, ge=0, le=100_000)
    # Seconds a request may wait for a database thread; past that it is 503 + Retry-After.
    db_queue_timeout: float = Field(default=2.0, gt=0, le=30)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    # The gateway logs every request; a service adds its own access line only when asked.
    access_log: bool = False
    jwt_issuer: str = "efficient-system-auth"
    jwt_audience: str = "efficient-system"
    # Clock skew tolerated on a token's `exp`, `iat` and `nbf` (hosts a little apart).
    jwt_leeway_seconds: int = Field(default=10, ge=0, le=30)
    auth_jwks_url: str = "http://127.0.0.1:8001/auth/.well-known/jwks.json"
    http_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Consumers: a statement timeout, deadlock or serialization failure is tried again this many
    # times before the message goes to retry (an unreachable database is waited out instead).
    consumer_db_retries: int = Field(default=3, ge=0, le=100)
    # Consumers: above this many events a second a batch waits up to CONSUMER_LINGER_SECONDS
    # for the rest of its burst (`shared.messaging.pacing`); below it, none.
    consumer_linger_above_per_second: float = Field(default=300.0, ge=0, le=1_000_000)
    consumer_linger_seconds: float = Field(default=0.1, ge=0, le=5)
    # This process's Prometheus metrics: http://METRICS_ADDRESS:METRICS_PORT/metrics, a port of
    # its own beside the API's (the gateway never routes it); 0: no metrics server, and an API
    # then records no request durations either (`make bench` measures the cost against that).
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    metrics_address: str = "0.0.0.0"
    # Relay and consumers touch this file while alive (their liveness probe); unset: no file.
    heartbeat_file: Path | None = None
    # Consumers (logs, kpi, tasks): `manage maintain` forgets applied event ids this old.
    processed_event_retention_days: int = Field(
        default=14, ge=MIN_PROCESSED_EVENT_RETENTION_DAYS, le=3650
    )
    # `manage maintain` deletes this many rows a transaction (docs/retention.md).
    maintain_batch_size: int = Field(default=1000, ge=1, le=100_000)


class RelaySettings(ServiceSettings):
    """The settings of a service that publishes events through an outbox relay."""

    relay_batch_size: int = Field(default=100, ge=1, le=10_000)
    relay_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    relay_retry_seconds: float = Field(default=2.0, gt=0, le=300)
    # Above this many events a second a relay waits RELAY_LINGER_SECONDS after a wake-up, to
    # batch (`RelayConfig`); below it, it claims at once.
    relay_linger_above_per_second: float = Field(default=300.0, ge=0, le=1_000_000)
    relay_linger_seconds: float = Field(default=0.05, ge=0, le=5)
    # `manage maintain` deletes published outbox rows older than this; 0 keeps them all, as a
    # replay re-sends the whole outbox: a trimmed one rebuilds only what is left
    # (docs/retention.md).
    outbox_retention_days: int = Field(default=0, ge=0, le=36_500)
