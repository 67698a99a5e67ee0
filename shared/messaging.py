"""RabbitMQ topology of the task events, declared the same way by the relay and the consumers."""

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange


def unrouted_name(exchange_name: str) -> str:
    """Where events go that no consumer queue is bound for yet (nothing is dropped)."""
    return f"{exchange_name}.unrouted"


async def declare_events_exchange(channel: AbstractChannel, name: str) -> AbstractExchange:
    """The durable topic exchange of task events, with a durable catch-all for unrouted ones."""
    unrouted = await channel.declare_exchange(
        unrouted_name(name), aio_pika.ExchangeType.FANOUT, durable=True
    )
    queue = await channel.declare_queue(unrouted_name(name), durable=True)
    await queue.bind(unrouted)
    return await channel.declare_exchange(
        name,
        aio_pika.ExchangeType.TOPIC,
        durable=True,
        arguments={"alternate-exchange": unrouted_name(name)},
    )
