"""HTTP clients for the calls a service makes to another (auth's JWKS, auth's users API).

Each passes on the `X-Request-ID` of the request it serves (or of the message a consumer
applies), so the other service's logs name the same request; with tracing on, each call is a
span and carries the W3C trace context.
"""

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from shared.core import tracing
from shared.core.context import REQUEST_ID_HEADER, current_request_id


async def _pass_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id is not None and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


def _traced(client: httpx.AsyncClient) -> None:
    provider = tracing.provider()
    if provider is not None:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)


def async_service_client(
    *, timeout: float, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An asynchronous client to another service (from the event loop)."""
    client = httpx.AsyncClient(
        timeout=timeout, transport=transport, event_hooks={"request": [_pass_request_id]}
    )
    _traced(client)
    return client
