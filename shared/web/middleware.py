"""The one ASGI layer every service runs: request ID, forwarded prefix, body limit, access log.

It is a single pure-ASGI class on purpose: each layer of middleware costs a call and a closure
per request, and these four share the one pass over the request headers.

- **Request ID:** a valid `X-Request-ID` is kept, otherwise a new one is made; it is set for
  the logs and error bodies (`shared.core.context`) and echoed in the response.
- **Prefix:** the gateway's `X-Forwarded-Prefix` (e.g. `/api`) becomes the ASGI `root_path`.
  As ASGI has it, the prefix then leads both `root_path` and `path`: routes still match what
  follows it (`/tasks/5`), and every URL the app makes (redirects, `Location`, the docs, the
  OpenAPI `servers`) carries the prefix the client used.
- **Body limit:** a declared `Content-Length` over the limit is a 413 before the app runs; a
  streamed body is cut off at the limit with the same 413.
- **Replay:** while a replay rebuilds the service's read model (`replay_flag`, refreshed in
  the background), every answer carries `X-Read-Model: replaying`.
- **Access log:** one line per request, only when `access_log` is on (`ACCESS_LOG=true`). The
  gateway already logs every request with the same request ID, so by default a request is
  logged once, at the edge; a service run without the gateway can turn its own line on.
- **Metrics:** every request's duration goes into `http_server_request_duration_seconds`
  under its route template (`scope["route"]`, set by the router while the app ran), method
  and status (`shared.web.metrics.RequestMetrics`), unless `metrics` is off (`METRICS_PORT=0`: no
  metrics server, so nothing is recorded either).
"""

import re
import time
import uuid

import structlog
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.core.context import REQUEST_ID, REQUEST_ID_HEADER, valid_request_id
from shared.core.readmodel import REPLAY_HEADER, ReplayFlag
from shared.web.errors import error_response
from shared.web.metrics import RequestMetrics

_PREFIX = re.compile(r"/[A-Za-z0-9/_-]{0,63}")


class RequestContextMiddleware:
    """See the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_size: int,
        access_log: bool = False,
        metrics: bool = True,
        replay_flag: ReplayFlag | None = None,
    ) -> None:
        self.app = app
        self.replay_flag = replay_flag
        self.access_log = access_log
        self.max_body_size = max_body_size
        self.too_large = f"The request body is larger than {max_body_size} bytes."
        self.logger = structlog.get_logger("access")
        self.metrics = RequestMetrics() if metrics else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = prefix = length = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"x-forwarded-prefix":
                prefix = value.decode("latin-1")
            elif name == b"content-length":
                length = value.decode("latin-1")
        if not valid_request_id(request_id):
            request_id = uuid.uuid4().hex
        # Not reset afterwards: each request runs in a context of its own, and the 500 handler
        # (outside this layer) still needs the ID.
        REQUEST_ID.set(request_id)
        if prefix and _PREFIX.fullmatch(prefix):
            scope = _with_prefix(scope, prefix.rstrip("/"))
        if length.isdigit() and int(length) > self.max_body_size:
            started = time.perf_counter()
            await self._refuse(scope, receive, send, request_id)
            if self.metrics is not None:
                self.metrics.observe(scope, 413, time.perf_counter() - started)
            return
        await self._handle(scope, receive, send, request_id.encode())

    async def _handle(self, scope: Scope, receive: Receive, send: Send, request_id: bytes) -> None:
        started = time.perf_counter()
        status = 500
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_size:
                    # An HTTPException: FastAPI lets it through its body parsing as it is.
                    raise HTTPException(413, detail=self.too_large)
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id)]
                if self.replay_flag is not None and self.replay_flag.replaying:
                    headers.append(REPLAY_HEADER)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe(scope, status, duration)
            if self.access_log:
                self.logger.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(duration * 1000, 2),
                )

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        response = error_response(
            413,
            "content_too_large",
            self.too_large,
            instance=scope["path"],
            headers={REQUEST_ID_HEADER: request_id},
        )
        await response(scope, receive, send)


def _with_prefix(scope: Scope, root: str) -> Scope:
    return {
        **scope,
        "root_path": root,
        "path": root + scope["path"],
        "raw_path": root.encode() + scope.get("raw_path", scope["path"].encode()),
    }


def install_middleware(
    app: FastAPI,
    *,
    max_body_size: int,
    access_log: bool,
    metrics: bool = True,
    replay_flag: ReplayFlag | None = None,
) -> None:
    """Add the request-context layer (see the module docstring)."""
    app.add_middleware(
        RequestContextMiddleware,
        max_body_size=max_body_size,
        access_log=access_log,
        metrics=metrics,
        replay_flag=replay_flag,
    )
