"""RabbitMQ plumbing the relay and the consumers share: the events topology, connecting."""

import asyncio
import contextlib
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
    HeadersType,
)
from aio_pika.exceptions import ChannelNotFoundEntity

logger = structlog.get_logger(__name__)

# A queue replicated over the nodes of a cluster: it outlives the loss of any one of them.
QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}


def unrouted_name(exchange_name: str) -> str:
    """Where events go that no consumer queue is bound for yet (nothing is dropped)."""
    return f"{exchange_name}.unrouted"


async def declare_unrouted_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    """The fanout exchange that takes the events `name` routes to no queue."""
    return await channel.declare_exchange(
        unrouted_name(name), aio_pika.ExchangeType.FANOUT, durable=True
    )


async def declare_events_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    """The durable topic exchange of task events, with a catch-all quorum queue for unrouted
    ones (prestart rebuilds an older, classic one: `shared.messaging.queues.unrouted_queue`)."""
    unrouted = await declare_unrouted_exchange(channel, name)
    queue = await channel.declare_queue(unrouted_name(name), durable=True, arguments=QUORUM)
    await queue.bind(unrouted)
    return await channel.declare_exchange(
        name,
        aio_pika.ExchangeType.TOPIC,
        durable=True,
        arguments={"alternate-exchange": unrouted_name(name)},
    )


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def connect_until_stopped(
    url: str, stop: asyncio.Event, *, retry_seconds: float
) -> AbstractRobustConnection | None:
    """A robust connection (it reconnects by itself later on), retried until RabbitMQ answers;
    `None` if `stop` is set first."""
    while not stop.is_set():
        try:
            return await aio_pika.connect_robust(url)
        except (OSError, aio_pika.exceptions.AMQPError) as exc:
            logger.warning("amqp_connect_failed", error=repr(exc))
            await sleep_unless(stop, retry_seconds)
    return None


async def ready_count(connection: AbstractConnection, queue: str) -> int | None:
    """How many messages wait in `queue` (not counting those delivered and not acked yet);
    `None` when there is no such queue."""
    channel = await connection.channel()  # a failed passive declare closes its channel
    try:
        declared = await channel.declare_queue(queue, passive=True)
    except ChannelNotFoundEntity:
        return None
    await channel.close()
    return declared.declaration_result.message_count or 0


def copy_of(
    message: AbstractIncomingMessage, *, headers: HeadersType | None = None
) -> aio_pika.Message:
    """A persistent copy of a received message to publish elsewhere (`headers` replace its own)."""
    return aio_pika.Message(
        body=message.body,
        headers=message.headers if headers is None else headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
