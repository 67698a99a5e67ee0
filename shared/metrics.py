"""Prometheus metrics: the names dashboards and alerts rely on, and the port that serves them.

Every process (each API, relay and consumer process) serves its metrics on a port of its own,
`http://METRICS_ADDRESS:METRICS_PORT/metrics` (`serve`), never through the gateway. The names
are contracts (README, "Metrics"); the HTTP ones follow OpenTelemetry's semantic conventions:

    http_server_request_duration_seconds{http_route, http_request_method,
                                         http_response_status_code}        histogram, APIs
    efficient_outbox_unpublished_events{outbox}                            gauge, relays
    efficient_outbox_oldest_unpublished_age_seconds{outbox}                gauge, relays
    efficient_events_published_total{exchange}                             counter, relays
    efficient_consumer_events_total{queue, outcome}                         counter, consumers
    efficient_consumer_lag_seconds{queue}                                   histogram, consumers
    efficient_consumer_dead_letters{queue}                                  gauge, consumers
    db_client_connection_count{db_client_connection_pool_name,
                               db_client_connection_state}                  gauge, every process
    db_client_connection_max{db_client_connection_pool_name}                gauge, every process

plus prometheus-client's process and Python metrics (`process_*`, `python_*`). What is read
from the database or the broker (outbox backlog, pools) is read when Prometheus scrapes, not
on the request or publish path.
"""

import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import structlog
from prometheus_client import (
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from shared.db import Database
from shared.events import Envelope
from shared.maintenance import outbox_status
from shared.outbox import Outbox

logger = structlog.get_logger(__name__)
# No `*_created` series beside every counter and histogram.
disable_created_metrics()  # type: ignore[no-untyped-call]

UNMATCHED_ROUTE = "unmatched"  # `http_route` of a request no route matched (never its path)
OTHER_METHOD = "_OTHER"  # `http_request_method` of a method HTTP does not define
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})

REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time from a request's arrival to its response, by route template, method and status.",
    ["http_route", "http_request_method", "http_response_status_code"],
)
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


class RequestMetrics:
    """Times requests into `http_server_request_duration_seconds`, one labelled child per
    (route template, method, status), made once and then looked up in a dict."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], Any] = {}

    def observe(self, scope: Any, status: int, seconds: float) -> None:
        """Record one request; call it after the app ran (its router sets `scope["route"]`)."""
        route = getattr(scope.get("route"), "path_format", None) or UNMATCHED_ROUTE
        method = scope["method"]
        if method not in _METHODS:
            method = OTHER_METHOD  # the label set stays bounded whatever clients send
        key = (route, method, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = REQUEST_DURATION.labels(route, method, str(status))
        child.observe(seconds)


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


class _PoolCollector(Collector):
    """Connections of the watched databases' pools, in use and idle, summed per pool name."""

    def __init__(self) -> None:
        self._databases: weakref.WeakSet[Database] = weakref.WeakSet()

    def watch(self, database: Database) -> None:
        self._databases.add(database)

    def collect(self) -> Iterator[Metric]:
        labels = ["db_client_connection_pool_name"]
        count = GaugeMetricFamily(
            "db_client_connection_count",
            "Database connections of the pool, by state (used: checked out by a session).",
            labels=[*labels, "db_client_connection_state"],
        )
        most = GaugeMetricFamily(
            "db_client_connection_max", "Connections the pool may open.", labels=labels
        )
        totals: dict[str, tuple[int, int, int]] = {}
        for database in list(self._databases):
            for name, engine in (("write", database.engine), ("read", database.read_engine)):
                pool = engine.pool
                if isinstance(pool, QueuePool):
                    used, idle, size = totals.get(name, (0, 0, 0))
                    totals[name] = (
                        used + pool.checkedout(),
                        idle + pool.checkedin(),
                        size + pool.size(),
                    )
        for name, (used, idle, size) in totals.items():
            count.add_metric([name, "used"], used)
            count.add_metric([name, "idle"], idle)
            most.add_metric([name], size)
        yield count
        yield most


_POOLS = _PoolCollector()
REGISTRY.register(_POOLS)


def watch_pools(database: Database) -> None:
    """Report `database`'s pools in `db_client_connection_*` (until it is garbage)."""
    _POOLS.watch(database)


def serve(*, port: int, address: str) -> Callable[[], None]:
    """Serve this process's metrics on `address:port` (0: not at all); returns what stops it."""
    if port == 0:
        return lambda: None
    server, thread = start_http_server(port, addr=address)
    logger.info("metrics_serving", address=address, port=port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
