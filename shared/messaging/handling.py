"""What a consumer's log lines and spans know while it handles a batch of messages.

Each message names the request that wrote its event (header `x-request-id`, set by the relay)
and, with tracing on, carries the W3C trace context of its `publish` span. For each message
the consumer handles:

- **a span** `process <queue>` (tracing on), a child of the message's `publish` span, so the
  HTTP request, the publish and each consumer's apply are one trace. A batch is applied in one
  transaction, but every message still gets a span of its own, a child of its own trace (never
  a mere link): the spans of one batch share their start and end (the transaction's) and say
  how many messages it held (`messaging.batch.message_count`);
- **the request ID** in `shared.core.context`, so each log line names the request: while one
  message is handled alone (a poison message, a retry, the one-by-one pass after a failed
  batch) its own; while a batch is applied, the one its messages share, or, if they came from
  several requests, none, and the lines carry `request_ids` (the distinct IDs) instead. Both
  are reset after each message and after the batch.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType

from aio_pika.abc import AbstractIncomingMessage
from opentelemetry import trace
from opentelemetry.trace import Span

from shared.core import tracing
from shared.core.context import REQUEST_ID, REQUEST_ID_MESSAGE_HEADER, REQUEST_IDS, valid_request_id


def message_request_id(message: AbstractIncomingMessage) -> str | None:
    """The ID of the request that caused `message`, if it names a valid one."""
    value = message.headers.get(REQUEST_ID_MESSAGE_HEADER)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value if isinstance(value, str) and valid_request_id(value) else None


class Handling:
    """The request IDs and spans of one batch, from entering it until its messages are done."""

    def __init__(self, messages: Sequence[AbstractIncomingMessage], *, queue: str) -> None:
        self._request_ids = {id(message): message_request_id(message) for message in messages}
        self._spans: dict[int, Span] = {}
        if tracing.enabled():
            self._spans = {
                id(message): tracing.start_message_span(
                    "process",
                    queue,
                    message_id=message.message_id or "",
                    parent=message.headers,
                    attributes={"messaging.batch.message_count": len(messages)},
                )
                for message in messages
            }

    def __enter__(self) -> "Handling":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for span in self._spans.values():
            tracing.end_span(span, error)

    @contextmanager
    def batch(self, messages: Sequence[AbstractIncomingMessage]) -> Iterator[None]:
        """While `messages` (of this batch) are applied together: their request ID(s), and the
        span, if it is one message."""
        ids = list(dict.fromkeys(self._request_ids.get(id(message)) for message in messages))
        shared = ids[0] if len(ids) == 1 else None
        several = None if len(ids) == 1 else [i for i in ids if i is not None]
        span = self._spans.get(id(messages[0])) if len(messages) == 1 else None
        with _within(shared, several, span):
            yield

    @contextmanager
    def of(self, message: AbstractIncomingMessage) -> Iterator[None]:
        """While `message` is handled alone: its request ID, its span current."""
        key = id(message)
        with _within(self._request_ids.get(key), None, self._spans.get(key)):
            yield


@contextmanager
def _within(request_id: str | None, several: list[str] | None, span: Span | None) -> Iterator[None]:
    tokens = REQUEST_ID.set(request_id), REQUEST_IDS.set(several or None)
    try:
        if span is None:
            yield
        else:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                yield
    finally:
        REQUEST_ID.reset(tokens[0])
        REQUEST_IDS.reset(tokens[1])
