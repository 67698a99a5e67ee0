"""OpenTelemetry traces: off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set, then sent over OTLP.

Off (the default), nothing of the SDK is set up: no tracer provider, no instrumentation, no
span, no header; `enabled()` (one global read) is the only check the code makes. On, each
process (`configure_tracing`, at the start of every API, relay and consumer) batches its spans
to `<endpoint>/v1/traces` (OTLP over HTTP/protobuf; the exporter's other `OTEL_EXPORTER_OTLP_*`
variables apply), as the service `OTEL_SERVICE_NAME` (default: the process's own name, e.g.
`tasks`, `tasks-relay`, `logs-consumer`), sampled as `OTEL_TRACES_SAMPLER` says (by default
`parentbased_always_on`: everything, and what a caller sampled).

The context travels as W3C trace context (`traceparent`, `tracestate`): from an HTTP caller
into the API (FastAPI's own instrumentation), with each event through the outbox row and the
AMQP message headers (`shared/messaging/outbox.py`, `shared/messaging/relay.py`), into each consumer
(`shared/messaging/handling.py`), and out with the calls the services make (`shared/web/client.py`).
"""

import os
from collections.abc import Mapping
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
_PROPAGATOR = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: Tracer | None = None


def enabled() -> bool:
    """Whether this process traces."""
    return _provider is not None


def provider() -> TracerProvider | None:
    """This process's tracer provider; `None` while tracing is off."""
    return _provider


def use_provider(new: TracerProvider | None) -> TracerProvider | None:
    """Trace with `new` from now on (`None`: stop tracing); the provider used before."""
    global _provider, _tracer
    previous, _provider = _provider, new
    _tracer = new.get_tracer("efficient-system") if new is not None else None
    return previous


def configure_tracing(*, service: str) -> None:
    """Export this process's spans over OTLP if `OTEL_EXPORTER_OTLP_ENDPOINT` is set."""
    if _provider is not None or not os.environ.get(ENDPOINT_VARIABLE, "").strip():
        return
    # Imported here: a process that does not trace never loads the exporter.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    name = os.environ.get("OTEL_SERVICE_NAME") or service
    new = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    new.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(new)  # for any library that looks for the global one
    use_provider(new)


def current_context() -> dict[str, str] | None:
    """The current span's W3C trace-context headers; `None` when tracing is off or no span."""
    if _provider is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier or None


def start_span(
    name: str,
    *,
    kind: SpanKind,
    parent: Mapping[str, Any] | None,
    attributes: Mapping[str, str | int],
) -> Span:
    """A span (tracing on), child of the span the W3C headers `parent` name, if any."""
    assert _tracer is not None, "tracing is off"
    context = _PROPAGATOR.extract(_text_headers(parent)) if parent else Context()
    return _tracer.start_span(name, context=context, kind=kind, attributes=attributes)


def start_message_span(
    operation: Literal["send", "process"],
    target: str,
    *,
    message_id: str,
    parent: Mapping[str, Any] | None,
    attributes: Mapping[str, str | int],
) -> Span:
    """A span about one AMQP message: `publish <exchange>` (a producer's) or `process <queue>`
    (a consumer's), child of the span the W3C headers `parent` name, if any."""
    send = operation == "send"
    target_key = "destination.name" if send else "destination.subscription.name"
    return start_span(
        f"{'publish' if send else 'process'} {target}",
        kind=SpanKind.PRODUCER if send else SpanKind.CONSUMER,
        parent=parent,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation.type": operation,
            f"messaging.{target_key}": target,
            "messaging.message.id": message_id,
            **attributes,
        },
    )


def headers_of(span: Span) -> dict[str, str]:
    """The W3C trace-context headers that make the receiver's spans children of `span`."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def end_span(span: Span, error: BaseException | None = None) -> None:
    """End `span`, failed with `error` if one is given."""
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, repr(error)[:200]))
    span.end()


def fail_current_span(error: BaseException) -> None:
    """Mark the current span, if any, failed with `error` (no cost when tracing is off)."""
    if _provider is not None:
        trace.get_current_span().set_status(Status(StatusCode.ERROR, repr(error)[:200]))


def _text_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """The text values of `headers` (an AMQP header may arrive as bytes)."""
    text = {}
    for key, value in headers.items():
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str):
            text[key] = value
    return text
