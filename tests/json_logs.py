"""The process's log lines as the services write them (JSON, from DEBUG up), for a test to read."""

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.core.logging import configure_logging


class JsonLogs:
    """What was logged since the capture began."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def lines(self, event: str | None = None) -> list[dict[str, Any]]:
        """Every line so far, or those of `event`, parsed."""
        parsed = [json.loads(line) for line in self._stream.getvalue().splitlines()]
        return [line for line in parsed if event is None or line.get("event") == event]


@contextmanager
def json_logs() -> Iterator[JsonLogs]:
    """Log as a service does, into memory, for the block (after any app is created: an app
    configures the logs anew); then back to the tests' quiet logs."""
    configure_logging(service="test", level="DEBUG", json=True)
    stream = io.StringIO()
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield JsonLogs(stream)
    finally:
        configure_logging(service="test", level="WARNING", json=False)
