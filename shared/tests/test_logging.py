"""JSON log lines: the request ID always, the trace and span IDs inside a span."""

import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.core import tracing
from shared.core.context import REQUEST_ID
from tests.json_logs import json_logs

logger = structlog.get_logger("test")


def test_lines_inside_a_span_carry_its_trace_and_span_ids_and_others_do_not(
    spans: InMemorySpanExporter,
) -> None:
    provider = tracing.provider()
    assert provider is not None
    tracer = provider.get_tracer("test")

    with json_logs() as logs:
        token = REQUEST_ID.set("the-request")
        logger.info("before")
        with tracer.start_as_current_span("work") as span:
            logger.info("inside")
        logger.info("after")
        REQUEST_ID.reset(token)

    before, inside, after = (logs.lines(name)[0] for name in ("before", "inside", "after"))
    context = span.get_span_context()
    assert inside["trace_id"] == trace.format_trace_id(context.trace_id)
    assert inside["span_id"] == trace.format_span_id(context.span_id)
    for line in (before, after):
        assert "trace_id" not in line
        assert "span_id" not in line
    assert {line["request_id"] for line in (before, inside, after)} == {"the-request"}
    assert inside["service"] == "test"
    assert inside["level"] == "info"


def test_with_tracing_off_no_line_names_a_trace() -> None:
    tracer = trace.get_tracer("test")  # the API's no-op tracer: no SDK is set up

    with json_logs() as logs, tracer.start_as_current_span("work"):
        logger.info("inside")

    [line] = logs.lines("inside")
    assert "trace_id" not in line
    assert "span_id" not in line
