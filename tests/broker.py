"""RabbitMQ plumbing the consumer and relay tests share (always the real broker).

Broker names are each test's own (`test.*`) and deleted after the test; consumers and relays
run until the test's block ends; conditions and dead letters are polled until a deadline.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from shared.contracts.events import TASK_EVENTS
from shared.messaging.broker import declare_events_exchange, unrouted_name
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def unique_name(prefix: str) -> str:
    """A broker name of the test's own, `test.<prefix>.<random>`: never one `make run` uses."""
    return f"test.{prefix}.{uuid.uuid4().hex[:12]}"


def consumer_config(
    prefix: str,
    *,
    amqp_url: str = AMQP_URL,
    max_attempts: int = 3,
    binding_key: str = TASK_EVENTS,
) -> ConsumerConfig:
    """A consumer on an exchange and queues of the test's own, retrying quickly."""
    name = unique_name(prefix)
    return ConsumerConfig(
        amqp_url=amqp_url,
        exchange=f"{name}.events",
        queue=name,
        binding_key=binding_key,
        max_attempts=max_attempts,
        retry_delay_ms=50,
        db_retry_seconds=0.2,
    )


@asynccontextmanager
async def channel_to(
    amqp_url: str, *, exchange: str, queues: Iterable[str] = ()
) -> AsyncIterator[AbstractChannel]:
    """A channel; afterwards `queues`, the events `exchange` and its unrouted pair are deleted."""
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    try:
        yield channel
    finally:
        for queue in (*queues, unrouted_name(exchange)):
            await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)
        await channel.exchange_delete(unrouted_name(exchange))
        await connection.close()


@asynccontextmanager
async def bound_queue(exchange_name: str) -> AsyncIterator[tuple[AbstractChannel, AbstractQueue]]:
    """A queue bound to the test exchange for every task event; the exchange is removed after."""
    async with channel_to(AMQP_URL, exchange=exchange_name) as channel:
        exchange = await declare_events_exchange(channel, exchange_name)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key="task.*")
        yield channel, queue


def broker(config: ConsumerConfig) -> AbstractAsyncContextManager[AbstractChannel]:
    """A channel to the consumer's broker; its exchange and queues are deleted afterwards."""
    queues = (config.queue, config.retry_queue, config.dead_queue)
    return channel_to(config.amqp_url, exchange=config.exchange, queues=queues)


class Runner(Protocol):
    """A consumer or relay: runs until `stop` is set."""

    async def run(self, stop: asyncio.Event) -> None: ...


@asynccontextmanager
async def running(*runners: Runner) -> AsyncIterator[None]:
    """Run each of `runners` for the block; then stop them and wait until they are done."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(runner.run(stop)) for runner in runners]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


@asynccontextmanager
async def consuming(consumer: EventConsumer[Any]) -> AsyncIterator[None]:
    """`running(consumer)`, entered once it consumes its queue."""
    async with running(consumer):
        await eventually(lambda: consumer._queue is not None)
        yield


async def publish(
    channel: AbstractChannel,
    config: ConsumerConfig,
    body: bytes,
    *,
    routing_key: str = "task.created",
    headers: dict[str, str] | None = None,
) -> None:
    """Publish `body` to the consumer's exchange, as the relay does (with `headers`, if any)."""
    exchange = await channel.get_exchange(config.exchange)
    message = aio_pika.Message(
        body,
        headers=dict(headers or {}),
        message_id=str(uuid.uuid4()),
        content_type="application/json",
    )
    await exchange.publish(message, routing_key=routing_key)


async def receive(
    queue: AbstractQueue, count: int, *, within: float = 15.0
) -> list[AbstractIncomingMessage]:
    """Poll the queue until `count` messages arrived or the deadline passed."""
    messages: list[AbstractIncomingMessage] = []
    deadline = time.monotonic() + within
    while len(messages) < count and time.monotonic() < deadline:
        message = await queue.get(fail=False)
        if message is None:
            await asyncio.sleep(0.02)
            continue
        await message.ack()
        messages.append(message)
    return messages


async def eventually(
    check: Callable[[], bool], *, within: float = 15.0, explain: Callable[[], str] | None = None
) -> None:
    """Poll `check` until it holds; fail at the deadline, saying what `explain` finds then.

    The check runs in a thread: it may query the database or call an app, and the consumers
    and relays it waits for share this event loop, so they go on meanwhile.
    """
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(check):
        if time.monotonic() >= deadline:
            found = await asyncio.to_thread(explain) if explain is not None else ""
            raise AssertionError(f"condition not reached in time {found}".rstrip())
        await asyncio.sleep(0.05)


async def dead_letter(channel: AbstractChannel, config: ConsumerConfig) -> AbstractIncomingMessage:
    """The first message of the dead-letter queue, polled until the deadline."""
    queue = await channel.declare_queue(config.dead_queue, passive=True)
    deadline = time.monotonic() + 15
    while (message := await queue.get(fail=False)) is None:
        assert time.monotonic() < deadline, "nothing reached the dead-letter queue"
        await asyncio.sleep(0.05)
    return message


async def dead_letter_count(channel: AbstractChannel, config: ConsumerConfig) -> int | None:
    """How many messages wait in the dead-letter queue, as the broker reports it."""
    queue = await channel.declare_queue(config.dead_queue, passive=True)
    return queue.declaration_result.message_count
