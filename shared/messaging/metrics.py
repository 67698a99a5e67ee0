"""The metrics of the event machinery: relays' outbox backlog, consumers' outcomes and lag.

    efficient_outbox_unpublished_events{outbox}                            gauge, relays
    efficient_outbox_oldest_unpublished_age_seconds{outbox}                gauge, relays
    efficient_events_published_total{exchange}                             counter, relays
    efficient_consumer_events_total{queue, outcome}                         counter, consumers
    efficient_consumer_lag_seconds{queue}                                   histogram, consumers
    efficient_consumer_dead_letters{queue}                                  gauge, consumers

The port that serves them, and the metrics every process has, are in `shared.core.metrics`.
"""

import time
from collections.abc import Iterator, Sequence
from datetime import datetime

import structlog
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from shared.contracts.events import Envelope
from shared.core import metrics as _serving  # noqa: F401  (no `*_created` series, as everywhere)
from shared.core.db import Database
from shared.messaging.maintenance import outbox_status
from shared.messaging.outbox import Outbox

logger = structlog.get_logger(__name__)

EVENTS_PUBLISHED = Counter(
    "efficient_events_published", "Events the relay published, confirmed by RabbitMQ.", ["exchange"]
)
CONSUMER_EVENTS = Counter(
    "efficient_consumer_events",
    "Messages a consumer finished with: applied, duplicate, retried or dead_lettered.",
    ["queue", "outcome"],
)
CONSUMER_LAG = Histogram(
    "efficient_consumer_lag_seconds",
    "Time from an event's occurred_at to its commit in the consumer's database.",
    ["queue"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
DEAD_LETTERS = Gauge(
    "efficient_consumer_dead_letters",
    "Messages waiting in the consumer's dead-letter queue (<queue>.dead).",
    ["queue"],
)


def count_consumed(queue: str, events: Sequence[Envelope], outcomes: Sequence[str]) -> None:
    """Count a consumer's committed events by outcome; the applied ones' lag too."""
    now = time.time()
    for event, outcome in zip(events, outcomes, strict=True):
        CONSUMER_EVENTS.labels(queue, outcome).inc()
        occurred_at = getattr(event, "occurred_at", None)  # every event type has one
        if outcome == "applied" and isinstance(occurred_at, datetime):
            CONSUMER_LAG.labels(queue).observe(max(0.0, now - occurred_at.timestamp()))


def count_failed(queue: str, *, dead_lettered: bool) -> None:
    """Count a message the consumer sent to its retry queue, or to its dead letters."""
    CONSUMER_EVENTS.labels(queue, "dead_lettered" if dead_lettered else "retried").inc()


class OutboxCollector(Collector):
    """The relay's backlog, read from its outbox when Prometheus scrapes (two index lookups)."""

    def __init__(self, database: Database, outbox: Outbox) -> None:
        self._database = database
        self._outbox = outbox

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        waiting = GaugeMetricFamily(
            "efficient_outbox_unpublished_events",
            "Events in the outbox not yet confirmed by RabbitMQ.",
            labels=["outbox"],
        )
        age = GaugeMetricFamily(
            "efficient_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished event of the outbox (0 when none waits).",
            labels=["outbox"],
        )
        return waiting, age

    def describe(self) -> Iterator[Metric]:
        """The names, without a query (what the registry asks when the collector joins)."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        """The two outbox gauges; none while the database cannot be read (`up` still says the
        relay is there, and its own log says why)."""
        try:
            with self._database.session(read_only=True) as session:
                status = outbox_status(session, self._outbox)
        except SQLAlchemyError as exc:
            logger.warning("outbox_metrics_failed", error=repr(exc))
            return
        waiting, age = self._families()
        waiting.add_metric([status.table], status.unpublished)
        seconds = status.oldest_age.total_seconds() if status.oldest_age is not None else 0.0
        age.add_metric([status.table], max(0.0, seconds))
        yield waiting
        yield age


def watch_outbox(database: Database, outbox: Outbox) -> None:
    """Report `outbox`'s backlog in this process's metrics (a relay process, once)."""
    REGISTRY.register(OutboxCollector(database, outbox))
