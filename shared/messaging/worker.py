"""The entry point every process without an HTTP port shares: the relays, the consumers and the
hooks dispatcher.

`run_worker` configures the JSON logs and traces, stops the work on SIGINT or SIGTERM, watches
the process's database pool and serves its metrics (`METRICS_PORT`), touches the heartbeat file
while the work says it is alive (`shared/messaging/heartbeat.py`), and closes it all at the end.
"""

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.core import metrics
from shared.core.db import Database
from shared.core.logging import configure_logging
from shared.core.settings import ServiceSettings
from shared.core.tracing import configure_tracing
from shared.messaging import heartbeat


@dataclass(frozen=True)
class Work:
    """What a process runs: `run(stop)` until `stop` is set, on `database` (disposed at the
    end); the heartbeat beats while `alive()` holds (always, when it is not given)."""

    database: Database
    run: Callable[[asyncio.Event], Awaitable[None]]
    alive: Callable[[], Awaitable[bool]] | None = None


def run_worker(*, service: str, settings: ServiceSettings, start: Callable[[], Work]) -> None:
    """Run the `Work` that `start()` builds (on the event loop, after logging is configured)
    until SIGINT or SIGTERM."""
    configure_logging(service=service, level=settings.log_level, json=settings.log_json)
    configure_tracing(service=service)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        work = start()
        metrics.watch_pools(work.database)
        stop_metrics = metrics.serve(port=settings.metrics_port, address=settings.metrics_address)
        beating = heartbeat.start(settings.heartbeat_file, stop, alive=work.alive)
        try:
            await work.run(stop)
        finally:
            stop.set()
            if beating is not None:
                await beating
            stop_metrics()
            work.database.dispose()

    asyncio.run(main())
