"""ASGI middleware every service runs: request IDs, the access log, the body-size limit."""

import re
import time

import structlog
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import error_response

REQUEST_ID_HEADER = "X-Request-ID"
_MAX_REQUEST_ID_LENGTH = 128
_PREFIX = re.compile(r"/[A-Za-z0-9/_-]{0,63}")


def _valid_request_id(value: str) -> bool:
    return 0 < len(value) <= _MAX_REQUEST_ID_LENGTH and value.isascii() and value.isprintable()


class AccessLogMiddleware:
    """Log one line per HTTP request: method, path, status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logger = structlog.get_logger("access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.logger.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )


class ForwardedPrefixMiddleware:
    """Take the gateway's `X-Forwarded-Prefix` (e.g. `/api`) as the ASGI `root_path`.

    As ASGI has it, the prefix then leads both `root_path` and `path`: routes still match
    what follows it (`/tasks/5`), and every URL the app makes (redirects, `Location`, the
    docs, the OpenAPI `servers`) carries the prefix the client used.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            prefix = Headers(scope=scope).get("x-forwarded-prefix", "")
            if _PREFIX.fullmatch(prefix):
                root = prefix.rstrip("/")
                scope = {
                    **scope,
                    "root_path": root,
                    "path": root + scope["path"],
                    "raw_path": root.encode() + scope.get("raw_path", scope["path"].encode()),
                }
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 in the common error shape for bodies over `max_body_size` bytes.

    A declared Content-Length is refused before the app runs; a streamed body is cut off by
    Starlette's limiter, whose error our handlers render.
    """

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = RequestBodyLimitMiddleware(app, max_body_size=max_body_size)
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length", "")
            if length.isdigit() and int(length) > self.max_body_size:
                message = f"The request body is larger than {self.max_body_size} bytes."
                response = error_response(413, "content_too_large", message)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_middleware(app: FastAPI, *, max_body_size: int) -> None:
    """Take or make `X-Request-ID`, log every request with it, and bound the body size."""
    app.add_middleware(BodyLimitMiddleware, max_body_size=max_body_size)
    app.add_middleware(ForwardedPrefixMiddleware)
    app.add_middleware(AccessLogMiddleware)
    # Added last, so it runs first: the access log line already carries the request ID.
    app.add_middleware(
        CorrelationIdMiddleware, header_name=REQUEST_ID_HEADER, validator=_valid_request_id
    )
