"""What a request carries through its whole handling: its request ID (for logs and errors).

A consumer sets the same variable, while it applies a message, to the ID of the request that
caused it (the message's `x-request-id` header), so its log lines name that request too.
"""

from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# While a consumer applies a batch of events that several requests caused: their IDs.
REQUEST_IDS: ContextVar[list[str] | None] = ContextVar("request_ids", default=None)
MAX_REQUEST_ID_LENGTH = 128
REQUEST_ID_HEADER = "X-Request-ID"  # the HTTP header it comes in and goes out in
REQUEST_ID_MESSAGE_HEADER = "x-request-id"  # the AMQP header the relay names it in


def current_request_id() -> str | None:
    """The ID of the request being handled, if any."""
    return REQUEST_ID.get()


def valid_request_id(value: object) -> bool:
    """Whether `value` may serve as a request ID: printable ASCII, 1 to 128 characters."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_REQUEST_ID_LENGTH
        and value.isascii()
        and value.isprintable()
    )
