"""The consumer queues: quorum queues (replicated in a cluster), and the step that rebuilds a
queue declared otherwise before (a classic queue) as one, keeping every message.

A queue's type and arguments cannot change in place: declaring it with others fails with
PRECONDITION_FAILED (406). `ensure_queue` (run at prestart) then rebuilds it:

1. a holding quorum queue `<name>.migrating` is declared and bound like the queue, so events
   published meanwhile reach it too (a consumer drops the second copy by `event_id`);
2. once the old queue has no consumer (the previous version is stopped), its messages are moved
   to the holding queue, each acked only after the broker confirmed its copy;
3. the old queue is deleted (only when unused and empty, else steps 2-3 again) and declared anew;
4. the holding queue's messages are moved back, it is unbound, emptied and deleted.

Messages moved aside and back come after the ones that arrived meanwhile: consumers keep the
newest version of a task or user (the version guard), so a reordering changes nothing.

Each step can be interrupted and run again: a holding queue left over is emptied into the queue.
"""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity, ChannelPreconditionFailed
from aiormq.exceptions import ConnectionNotImplemented

from shared.messaging.broker import QUORUM, copy_of, declare_events_exchange, unrouted_name

logger = structlog.get_logger(__name__)

# What a quorum queue dead-letters (an expired retry, the delivery limit) leaves it only once the
# target queue has it (at-least-once); RabbitMQ requires reject-publish on overflow for that.
AT_LEAST_ONCE: dict[str, Any] = {
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}
# A message delivered this often without an ack or a failure reported by the consumer (its
# process died holding it, again and again) goes to the dead letters by the broker's hand.
DELIVERY_LIMIT = 50
HOLDING_SUFFIX = ".migrating"


@dataclass(frozen=True)
class ConsumerConfig:
    amqp_url: str
    exchange: str
    queue: str
    binding_key: str  # e.g. `task.#`: which of the exchange's events the queue receives
    prefetch: int = 200
    batch_size: int = 100  # messages applied in one transaction, at most
    # Busy (more than `linger_above_per_second` events a second over the last second): writes
    # keep the machine busy, and after the first message of a batch arrives the consumer waits
    # for the rest of its burst (the relay publishes a batch at once), until no message came
    # for `linger_quiet_seconds`, at most `linger_seconds`: a batch then carries many events for
    # the price of one transaction (`shared.messaging.pacing`). Below that rate it applies what
    # has arrived at once.
    linger_above_per_second: float = 300.0
    linger_seconds: float = 0.1
    linger_quiet_seconds: float = 0.01
    max_attempts: int = 5
    retry_delay_ms: int = 2000
    db_retry_seconds: float = 2.0
    # How often the consumer checks it is still subscribed (and subscribes again if not).
    resubscribe_seconds: float = 2.0
    # A statement timeout, deadlock or serialization failure is tried again this many times
    # (no pause: the server already rolled it back); then it fails as any error does.
    db_retries: int = 3

    @property
    def retry_queue(self) -> str:
        return f"{self.queue}.retry"

    @property
    def dead_queue(self) -> str:
        return f"{self.queue}.dead"


class QueueMigrationError(Exception):
    """An older queue could not be rebuilt (yet); nothing was lost, run the step again."""


@dataclass(frozen=True)
class QueueSpec:
    """A durable quorum queue: its name, extra arguments, and (exchange, routing key) bindings."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    bindings: tuple[tuple[str, str], ...] = ()

    @property
    def holding(self) -> str:
        """Where its messages wait while the queue is rebuilt."""
        return f"{self.name}{HOLDING_SUFFIX}"


async def declare(channel: AbstractChannel, spec: QueueSpec) -> AbstractQueue:
    """Declare the queue and its bindings (idempotently); 406 if it exists otherwise."""
    queue = await channel.declare_queue(
        spec.name, durable=True, arguments={**QUORUM, **spec.arguments}
    )
    for exchange, routing_key in spec.bindings:
        await queue.bind(exchange, routing_key=routing_key)
    return queue


async def ensure_queue(url: str, spec: QueueSpec, *, wait_seconds: float = 60.0) -> None:
    """Declare the queue; a classic one of that name is rebuilt with its messages (module doc)."""
    connection = await aio_pika.connect(url)
    try:
        try:
            async with connection.channel() as channel:
                await declare(channel, spec)
        except ChannelPreconditionFailed as exc:  # another type or other arguments
            logger.warning("queue_rebuild", queue=spec.name, reason=str(exc))
            await _set_aside(url, connection, spec, wait_seconds=wait_seconds)
            async with connection.channel() as channel:
                await declare(channel, spec)
        if await _exists(connection, spec.holding):
            await _move_back(connection, spec)
            logger.info("queue_rebuilt", queue=spec.name)
    finally:
        await connection.close()


async def _set_aside(
    url: str, connection: AbstractConnection, spec: QueueSpec, *, wait_seconds: float
) -> None:
    """Steps 1-3: the messages into the holding queue, the old queue deleted."""
    deadline = time.monotonic() + wait_seconds
    async with connection.channel(publisher_confirms=True) as channel:
        holding = await declare(channel, QueueSpec(spec.holding, bindings=spec.bindings))
        while True:
            old = await channel.declare_queue(spec.name, passive=True)
            consumers = old.declaration_result.consumer_count or 0
            if consumers == 0:
                await _move(channel, old, holding.name)
                if await _delete_classic(url, spec.name):
                    return
            if time.monotonic() >= deadline:
                raise QueueMigrationError(
                    f"queue {spec.name!r} still has {consumers} consumer(s) of an older "
                    "version: stop them, then run prestart again (its messages are kept)"
                )
            await asyncio.sleep(1.0)


async def _move_back(connection: AbstractConnection, spec: QueueSpec) -> None:
    """Step 4: the holding queue's messages into the queue, then the holding queue deleted."""
    async with connection.channel(publisher_confirms=True) as channel:
        holding = await channel.declare_queue(spec.holding, passive=True)
        await _move(channel, holding, spec.name)
        for exchange, routing_key in spec.bindings:
            await holding.unbind(exchange, routing_key=routing_key)
        # Nothing reaches it any more; what arrived before the unbinding goes too.
        while await _move(channel, holding, spec.name) or await _waiting(channel, spec.holding):
            pass
        await channel.queue_delete(spec.holding)


async def _move(channel: AbstractChannel, source: AbstractQueue, target: str) -> int:
    """Move every ready message of `source` to the queue `target`, confirmed one by one."""
    moved = 0
    while (message := await source.get(fail=False)) is not None:
        await channel.default_exchange.publish(copy_of(message), routing_key=target)
        await message.ack()
        moved += 1
    if moved:
        logger.info("queue_messages_moved", source=source.name, target=target, count=moved)
    return moved


async def _waiting(channel: AbstractChannel, name: str) -> int:
    queue = await channel.declare_queue(name, passive=True)
    return queue.declaration_result.message_count or 0


async def _delete_classic(url: str, name: str) -> bool:
    """Delete the classic queue unless it has a consumer or a message (False then).

    On a connection of its own: a quorum queue refuses such a delete by closing the connection.
    """
    connection = await aio_pika.connect(url)
    try:
        async with connection.channel() as channel:
            await channel.queue_delete(name, if_unused=True, if_empty=True)
    except ChannelPreconditionFailed:
        return False
    except ConnectionNotImplemented as exc:
        raise QueueMigrationError(
            f"queue {name!r} is not a classic queue: change its arguments by hand "
            f"(its messages wait in {name}{HOLDING_SUFFIX})"
        ) from exc
    finally:
        await connection.close()
    return True


async def _exists(connection: AbstractConnection, name: str) -> bool:
    try:
        async with connection.channel() as channel:
            await channel.declare_queue(name, passive=True)
    except ChannelNotFoundEntity:
        return False
    return True


def unrouted_queue(exchange: str) -> QueueSpec:
    """The catch-all queue of the events `exchange` (`shared.messaging.broker`), as prestart
    ensures it: a classic one of older versions, homed on one node, is rebuilt as a quorum queue."""
    return QueueSpec(unrouted_name(exchange), bindings=((unrouted_name(exchange), ""),))


def consumer_queues(config: "ConsumerConfig") -> list[QueueSpec]:
    """The dead-letter, retry and main queue of a consumer, in the order they are declared."""
    return [
        QueueSpec(config.dead_queue),
        QueueSpec(
            config.retry_queue,
            arguments={
                "x-message-ttl": config.retry_delay_ms,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": config.queue,
                **AT_LEAST_ONCE,
            },
        ),
        QueueSpec(
            config.queue,
            arguments={
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": config.dead_queue,
                **AT_LEAST_ONCE,
            },
            bindings=((config.exchange, config.binding_key),),
        ),
    ]


async def declare_consumer_queues(
    channel: AbstractChannel, config: "ConsumerConfig"
) -> AbstractQueue:
    """Declare (idempotently) the exchange, the queue and its retry and dead-letter queues."""
    await declare_events_exchange(channel, config.exchange)
    *_, queue = [await declare(channel, spec) for spec in consumer_queues(config)]
    return queue
