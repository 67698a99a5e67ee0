"""What a request carries through its whole handling: its request ID (for logs and errors)."""

from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The ID of the request being handled, if any."""
    return REQUEST_ID.get()
