"""The hooks dispatcher's metrics (names are a contract, docs/webhooks.md):

    efficient_hooks_deliveries_total{outcome}                 counter: succeeded, retrying, failed
    efficient_hooks_attempt_duration_seconds                  histogram: one attempt's request
    efficient_hooks_due_deliveries                            gauge: due, not yet being sent
    efficient_hooks_oldest_due_delivery_age_seconds           gauge: how long the oldest has waited
    efficient_hooks_disabled_endpoints{reason}                gauge: manual, gone, failing

The gauges are read from the database when Prometheus scrapes.
"""

from collections.abc import Iterator

import structlog
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from services.hooks.models import DisabledReason
from shared.core import metrics as _serving  # noqa: F401  (no `*_created` series, as everywhere)
from shared.core.db import Database

logger = structlog.get_logger(__name__)

DELIVERIES = Counter(
    "efficient_hooks_deliveries",
    "Attempts' outcomes for their delivery: succeeded, retrying (another attempt is scheduled)"
    " or failed (no more attempts: the schedule ended, or the endpoint answered 410).",
    ["outcome"],
)
ATTEMPT_DURATION = Histogram(
    "efficient_hooks_attempt_duration_seconds",
    "Time one delivery attempt took, from connecting to the answer's status line.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)

_BACKLOG = text(
    """
    SELECT count(*), coalesce(extract(epoch FROM now() - min(delivery.next_attempt_at)), 0)
    FROM hooks.delivery AS delivery
    JOIN hooks.endpoint AS endpoint ON endpoint.id = delivery.endpoint_id
    WHERE delivery.status = 'pending' AND delivery.next_attempt_at <= now()
      AND endpoint.status = 'active'
    """
)
_DISABLED = text(
    "SELECT disabled_reason, count(*) FROM hooks.endpoint WHERE status = 'disabled'"
    " GROUP BY disabled_reason"
)


class BacklogCollector(Collector):
    """The backlog and the disabled endpoints, read at each scrape (indexed lookups)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "efficient_hooks_due_deliveries",
                "Deliveries to active endpoints that are due and not yet being sent.",
            ),
            GaugeMetricFamily(
                "efficient_hooks_oldest_due_delivery_age_seconds",
                "How long the longest-waiting due delivery has been due (0 when none is).",
            ),
            GaugeMetricFamily(
                "efficient_hooks_disabled_endpoints",
                "Disabled endpoints, by reason: manual, gone (a 410 answer), failing (days of"
                " failed attempts).",
                labels=["reason"],
            ),
        )

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        try:
            with self._database.session(read_only=True) as session:
                due, age = session.execute(_BACKLOG).one()
                disabled = {str(reason): int(count) for reason, count in session.execute(_DISABLED)}
        except SQLAlchemyError as exc:
            logger.warning("hooks_metrics_failed", error=repr(exc))
            return
        waiting, oldest, by_reason = self._families()
        waiting.add_metric([], due)
        oldest.add_metric([], max(0.0, float(age)))
        for reason in DisabledReason:
            by_reason.add_metric([reason.value], disabled.get(reason.value, 0))
        yield waiting
        yield oldest
        yield by_reason


def watch_backlog(database: Database) -> None:
    """Report the backlog in this process's metrics (a dispatcher process, once)."""
    REGISTRY.register(BacklogCollector(database))
