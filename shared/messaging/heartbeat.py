"""Liveness of the processes without an HTTP port (the relay, the consumers).

The process touches a file every few seconds from its event loop, while it is doing its work (a
consumer: while the broker delivers its queues to it); the probe checks the file is fresh. A stuck
loop, or a consumer that could not subscribe again, stops the touching, and the orchestrator
restarts the process.

    python -m shared.messaging.heartbeat /tmp/heartbeat 60   # exit 0: touched in the last 60 s
"""

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

INTERVAL_SECONDS = 10.0


async def beat(
    path: Path,
    stop: asyncio.Event,
    *,
    interval: float = INTERVAL_SECONDS,
    alive: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """Touch `path` every `interval` seconds, when `alive()` says so, until `stop` is set."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    while not stop.is_set():
        if alive is None or await alive():
            await asyncio.to_thread(path.touch)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def start(
    path: Path | None, stop: asyncio.Event, *, alive: Callable[[], Awaitable[bool]] | None = None
) -> "asyncio.Task[None] | None":
    """Beat in the background when a heartbeat file is configured; keep the task referenced."""
    return asyncio.create_task(beat(path, stop, alive=alive)) if path is not None else None


def is_fresh(path: Path, max_age_seconds: float) -> bool:
    """True when `path` was touched less than `max_age_seconds` ago."""
    try:
        return time.time() - path.stat().st_mtime < max_age_seconds
    except FileNotFoundError:
        return False


if __name__ == "__main__":
    file, max_age = Path(sys.argv[1]), float(sys.argv[2])
    sys.exit(0 if is_fresh(file, max_age) else 1)
