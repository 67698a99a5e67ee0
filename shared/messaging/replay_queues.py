"""The broker side of a replay (`shared/messaging/rebuild.py`): its queues, and the consumers
applying them.

A replay queue is a consumer's own kind of queue (declared by `declare_consumer_queues`, with
its `.retry` and `.dead`), read by the service's own `EventConsumer`s; only the database they
write to differs: the shadow generation, or, after the switch, the live one.
"""

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aio_pika.exceptions import AMQPError

from shared.messaging.applying import parse_event
from shared.messaging.broker import ready_count
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig

POLL_SECONDS = 0.2


class ReplayError(Exception):
    """A replay cannot go on; the message says what is serving and what to do."""


async def connect(amqp_url: str) -> AbstractConnection:
    """A connection to RabbitMQ, or a `ReplayError` that says it is not reachable."""
    try:
        return await aio_pika.connect(amqp_url, timeout=10)
    except (OSError, AMQPError, TimeoutError) as exc:
        raise ReplayError(f"RabbitMQ is not reachable ({exc!r}); nothing was changed") from exc


async def require_queues(connection: AbstractConnection, queues: Sequence[str], why: str) -> None:
    """A `ReplayError` saying `why` unless each of `queues` exists."""
    for queue in queues:
        if await ready_count(connection, queue) is None:
            raise ReplayError(f"there is no queue {queue!r}: {why}; nothing was changed")


async def delete_queues(
    connection: AbstractConnection, configs: Sequence[ConsumerConfig], *, keep_dead: bool
) -> list[str]:
    """Delete each consumer's queues; with `keep_dead`, a dead-letter queue that holds messages
    stays (for a look): the names of those kept."""
    kept = []
    channel = await connection.channel()
    for config in configs:
        await channel.queue_delete(config.queue)
        await channel.queue_delete(config.retry_queue)
        if keep_dead and await ready_count(connection, config.dead_queue):
            kept.append(config.dead_queue)
        else:
            await channel.queue_delete(config.dead_queue)
    await channel.close()
    return kept


async def unbind(connection: AbstractConnection, configs: Sequence[ConsumerConfig]) -> None:
    """No new event reaches these queues from their exchanges."""
    channel = await connection.channel()
    for config in configs:
        queue = await channel.declare_queue(config.queue, passive=True)
        await queue.unbind(config.exchange, routing_key=config.binding_key)
    await channel.close()


async def apply_backlog(connection: AbstractConnection, consumer: EventConsumer[Any]) -> None:
    """Apply what waits in the consumer's queue now, a batch per transaction, acked after it."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(consumer.config.queue, passive=True)
        remaining = queue.declaration_result.message_count or 0
        while remaining > 0:
            batch: list[AbstractIncomingMessage] = []
            while len(batch) < min(remaining, consumer.config.batch_size):
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                batch.append(message)
            if not batch:
                return
            events = [parse_event(message.body, consumer.model) for message in batch]
            await asyncio.to_thread(consumer.process_batch, events)
            for message in batch:
                await message.ack()
            remaining -= len(batch)
    finally:
        await channel.close()  # what was taken and not acked goes back to the queue


async def run_until_caught_up(
    connection: AbstractConnection,
    consumers: Sequence[EventConsumer[Any]],
    *,
    deadline: float,
    backlog: int,
    unbind_queues: bool = False,
) -> None:
    """Run `consumers` until, twice in a row, at most `backlog` messages wait in each queue
    (none: and the consumers are idle) and none in its retry queue.

    With `unbind_queues` the queues are unbound at every poll (a consumer binds its queue again
    when it starts or reconnects), so what they hold only shrinks."""
    stop = asyncio.Event()
    running = [asyncio.create_task(consumer.run(stop)) for consumer in consumers]
    try:
        calm = 0
        while calm < 2:
            await asyncio.sleep(POLL_SECONDS)
            if unbind_queues:
                await unbind(connection, [consumer.config for consumer in consumers])
            calm = calm + 1 if await _caught_up(connection, consumers, backlog) else 0
            if time.monotonic() > deadline:
                raise ReplayError("the replay did not catch up before its timeout")
            for task in running:
                if task.done():
                    task.result()
                    raise ReplayError("a replay consumer stopped")
    finally:
        stop.set()
        await asyncio.gather(*running, return_exceptions=True)


async def _caught_up(
    connection: AbstractConnection, consumers: Sequence[EventConsumer[Any]], backlog: int
) -> bool:
    for consumer in consumers:
        config = consumer.config
        ready, retrying, dead = [
            await ready_count(connection, name)
            for name in (config.queue, config.retry_queue, config.dead_queue)
        ]
        if ready is None or retrying is None or dead is None:
            raise ReplayError(f"the replay queues of {config.queue!r} are gone")
        if dead:
            raise ReplayError(
                f"{dead} replayed events went to the dead letters ({config.dead_queue})"
            )
        if ready > backlog or retrying or (backlog == 0 and not consumer.idle):
            return False
    return True
