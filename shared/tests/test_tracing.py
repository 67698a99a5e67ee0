"""Tracing is set up only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and then exports over OTLP.

Each case runs in a process of its own: a process sets its tracer provider once.
"""

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

ROOT = Path(__file__).parents[2]
A_TRACED_PROCESS = """
from opentelemetry.trace import SpanKind
from shared.core import tracing
tracing.configure_tracing(service="tasks-relay")
span = tracing.start_span("probe", kind=SpanKind.INTERNAL, parent=None, attributes={})
span.end()
tracing.provider().shutdown()  # what the SDK does at exit: send what is batched
"""
AN_UNTRACED_PROCESS = """
import sys
from opentelemetry import trace
from shared.core import tracing
tracing.configure_tracing(service="tasks-relay")
assert tracing.provider() is None and tracing.current_context() is None
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"  # no SDK provider
assert "opentelemetry.exporter.otlp.proto.http" not in sys.modules
"""


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver: keeps each request's path, content type and body."""

    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", Collector.received
    server.shutdown()
    server.server_close()


def run(script: str, **environment: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**env, **environment}, check=True, timeout=60
    )


def test_with_the_endpoint_set_spans_go_to_it_over_otlp_http(
    collector: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    endpoint, received = collector

    run(A_TRACED_PROCESS, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)

    [(path, content_type, body)] = received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    [resource_spans] = ExportTraceServiceRequest.FromString(body).resource_spans
    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert attributes["service.name"] == "tasks-relay"
    assert [span.name for scope in resource_spans.scope_spans for span in scope.spans] == ["probe"]


def test_otel_service_name_overrides_the_process_name(
    collector: tuple[str, list[tuple[str, str, bytes]]],
) -> None:
    endpoint, received = collector

    run(A_TRACED_PROCESS, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME="relay-eu-1")

    [(_, _, body)] = received
    [resource_spans] = ExportTraceServiceRequest.FromString(body).resource_spans
    attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert attributes["service.name"] == "relay-eu-1"


def test_without_the_endpoint_nothing_of_the_sdk_is_set_up() -> None:
    run(AN_UNTRACED_PROCESS)
    run(AN_UNTRACED_PROCESS, OTEL_EXPORTER_OTLP_ENDPOINT="  ")  # empty counts as unset
