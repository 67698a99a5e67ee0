"""The HTTP metric every API serves, named after OpenTelemetry's semantic conventions:

    http_server_request_duration_seconds{http_route, http_request_method,
                                         http_response_status_code}        histogram, APIs

The port that serves it, and the metrics every process has, are in `shared.core.metrics`.
"""

from typing import Any

from prometheus_client import Histogram

from shared.core import metrics as _serving  # noqa: F401  (no `*_created` series, as everywhere)

UNMATCHED_ROUTE = "unmatched"  # `http_route` of a request no route matched (never its path)
OTHER_METHOD = "_OTHER"  # `http_request_method` of a method HTTP does not define
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})

REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time from a request's arrival to its response, by route template, method and status.",
    ["http_route", "http_request_method", "http_response_status_code"],
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
