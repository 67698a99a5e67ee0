"""Prometheus metrics every process serves: the port, and the database pools.

Every process (each API, relay and consumer process) serves its metrics on a port of its own,
`http://METRICS_ADDRESS:METRICS_PORT/metrics` (`serve`), never through the gateway. The names
are contracts (docs/operations.md, "Metrics"); this module holds the ones every process has:

    db_client_connection_count{db_client_connection_pool_name,
                               db_client_connection_state}                  gauge, every process
    db_client_connection_max{db_client_connection_pool_name}                gauge, every process

plus prometheus-client's process and Python metrics (`process_*`, `python_*`). The HTTP ones
are in `shared.web.metrics`, the outbox and consumer ones in `shared.messaging.metrics`. What
is read from the database (pools, outbox backlog) is read when Prometheus scrapes, not on the
request or publish path.
"""

import weakref
from collections.abc import Callable, Iterator

import structlog
from prometheus_client import REGISTRY, disable_created_metrics, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool

from shared.core.db import Database

logger = structlog.get_logger(__name__)
# No `*_created` series beside every counter and histogram.
disable_created_metrics()  # type: ignore[no-untyped-call]


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
