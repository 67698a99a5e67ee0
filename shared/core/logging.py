"""Structured JSON logs, with the request ID on every line, and the trace and span IDs on
every line written inside a span (tracing on; see `shared/core/tracing.py`)."""

import logging
import sys
from typing import Any

import structlog
from opentelemetry import trace

from shared.core import tracing
from shared.core.context import REQUEST_IDS, current_request_id


def _add_request_id(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    request_id = current_request_id()
    if request_id:
        event.setdefault("request_id", request_id)
    else:
        request_ids = REQUEST_IDS.get()  # a consumer's batch of several requests' events
        if request_ids:
            event.setdefault("request_ids", request_ids)
    return event


def _add_trace_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    if tracing.enabled():  # off: no span is ever current, and this is all the cost
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event.setdefault("trace_id", trace.format_trace_id(context.trace_id))
            event.setdefault("span_id", trace.format_span_id(context.span_id))
    return event


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    """Route structlog and the standard library (uvicorn, alembic) through one formatter."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        _add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        lambda _, __, event: {"service": service, **event},
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # A line below the level is dropped first, before any other processor pays for it
        # (the relay and the consumers log a DEBUG line per batch).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Our own middleware writes the access log, with the request ID.
    logging.getLogger("uvicorn.access").disabled = True
