"""Quorum consumer queues, and the prestart step that rebuilds classic ones, on the real broker."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelPreconditionFailed
from sqlalchemy.engine import Engine

from shared.contracts.events import TASK_EVENTS, TaskEvent
from shared.core.db import Database
from shared.core.settings import ServiceSettings
from shared.messaging.broker import (
    declare_events_exchange,
    declare_unrouted_exchange,
    unrouted_name,
)
from shared.messaging.consumer import ERROR_HEADER
from shared.messaging.dead_letters import DELIVERY_LIMIT_ERROR, DeadLetter
from shared.messaging.queues import (
    DELIVERY_LIMIT,
    ConsumerConfig,
    QueueMigrationError,
    QueueSpec,
    consumer_queues,
    declare,
    declare_consumer_queues,
    ensure_queue,
    unrouted_queue,
)
from shared.messaging.subscriptions import Subscription, ensure_consumer_queues
from shared.tests.test_consumer import applied_task_ids, consumer_of, created_body, record
from tests.broker import (
    AMQP_URL,
    channel_to,
    consuming,
    dead_letter,
    eventually,
    publish,
    unique_name,
)


@pytest.fixture
def subscription() -> Subscription[TaskEvent]:
    return Subscription(
        queue=unique_name("quorum"),
        exchange=f"{unique_name('quorum')}.events",
        binding_key=TASK_EVENTS,
        model=TaskEvent,
        handler=record,
    )


@pytest.fixture
def settings() -> ServiceSettings:
    return ServiceSettings(amqp_url=AMQP_URL)


@asynccontextmanager
async def topology(config: ConsumerConfig) -> AsyncIterator[AbstractChannel]:
    """A channel; afterwards every queue of the consumer (a holding one too) is deleted."""
    names = [spec.name for spec in consumer_queues(config)]
    holding = [QueueSpec(name).holding for name in names]
    async with channel_to(AMQP_URL, exchange=config.exchange, queues=names + holding) as channel:
        yield channel


async def declare_classic(channel: AbstractChannel, config: ConsumerConfig) -> None:
    """The queues as the previous version declared them: classic, durable."""
    catch_all = await channel.declare_queue(unrouted_name(config.exchange), durable=True)
    await catch_all.bind(await declare_unrouted_exchange(channel, config.exchange))
    exchange = await channel.declare_exchange(
        config.exchange,
        aio_pika.ExchangeType.TOPIC,
        durable=True,
        arguments={"alternate-exchange": unrouted_name(config.exchange)},
    )
    queue = await channel.declare_queue(config.queue, durable=True)
    await queue.bind(exchange, routing_key=config.binding_key)
    await channel.declare_queue(
        config.retry_queue,
        durable=True,
        arguments={
            "x-message-ttl": config.retry_delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": config.queue,
        },
    )
    await channel.declare_queue(config.dead_queue, durable=True)


async def drain(channel: AbstractChannel, name: str) -> list[AbstractIncomingMessage]:
    """Every message waiting in the queue `name`, acked."""
    queue = await channel.declare_queue(name, passive=True)
    messages = []
    while (message := await queue.get(fail=False)) is not None:
        await message.ack()
        messages.append(message)
    return messages


async def is_quorum(spec: QueueSpec) -> bool:
    """The queue exists as a quorum queue with these arguments (a classic declare is refused)."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        async with connection.channel() as channel:
            await declare(channel, spec)
        async with connection.channel() as channel:
            await channel.declare_queue(spec.name, durable=True)
    except ChannelPreconditionFailed:
        return True
    finally:
        await connection.close()
    return False


async def exists(name: str) -> bool:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        async with connection.channel() as channel:
            await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return False
    finally:
        await connection.close()
    return True


async def hold(message: AbstractIncomingMessage) -> None:
    """A consumer that never acks."""


async def waiting(channel: AbstractChannel, name: str) -> int:
    queue: AbstractQueue = await channel.declare_queue(name, passive=True)
    return queue.declaration_result.message_count or 0


def test_classic_queues_become_quorum_queues_with_the_same_messages(
    subscription: Subscription[TaskEvent],
    settings: ServiceSettings,
    database: Database,
    engine: Engine,
) -> None:
    config = subscription.config(settings)
    bodies = [created_body(task_id=n) for n in range(1, 6)]

    async def before(channel: AbstractChannel) -> None:
        await declare_classic(channel, config)
        for body in bodies:
            await publish(channel, config, body)
        await publish(channel, config, b"unrouted", routing_key="user.created")
        for n in (1, 2):
            dead = aio_pika.Message(b"poison %d" % n, headers={ERROR_HEADER: f"error {n}"})
            await channel.default_exchange.publish(dead, routing_key=config.dead_queue)

    async def scenario() -> None:
        async with topology(config) as channel:
            await before(channel)
            await asyncio.to_thread(ensure_consumer_queues, settings, [subscription])
            await asyncio.to_thread(ensure_consumer_queues, settings, [subscription])  # again
            for spec in [*consumer_queues(config), unrouted_queue(config.exchange)]:
                assert await is_quorum(spec), spec.name
                assert not await exists(spec.holding)
            assert await waiting(channel, config.queue) == len(bodies)
            [unrouted] = await drain(channel, unrouted_name(config.exchange))
            assert unrouted.body == b"unrouted"
            dead = await drain(channel, config.dead_queue)
            assert [(m.body, m.headers[ERROR_HEADER]) for m in dead] == [
                (b"poison 1", "error 1"),
                (b"poison 2", "error 2"),
            ]
            consumer = consumer_of(config, database)
            async with consuming(consumer):
                await publish(channel, config, created_body(task_id=6))  # still bound
                await eventually(lambda: applied_task_ids(engine) == [1, 2, 3, 4, 5, 6])

    asyncio.run(scenario())


def test_an_interrupted_rebuild_is_finished(
    subscription: Subscription[TaskEvent], settings: ServiceSettings
) -> None:
    config = subscription.config(settings)
    main = consumer_queues(config)[-1]

    async def scenario() -> None:
        async with topology(config) as channel:
            await declare_events_exchange(channel, config.exchange)
            await declare(channel, main)  # rebuilt, but its messages still wait aside
            await declare(channel, QueueSpec(main.holding, bindings=main.bindings))
            for n in range(3):
                await publish(channel, config, created_body(task_id=n))  # into both
            await ensure_queue(AMQP_URL, main)
            assert await waiting(channel, config.queue) == 6  # a consumer drops the copies
            await publish(channel, config, created_body(task_id=9))
            assert await waiting(channel, config.queue) == 7
            assert not await exists(main.holding)

    asyncio.run(scenario())


def test_a_classic_queue_still_consumed_by_an_older_version_is_kept(
    subscription: Subscription[TaskEvent], settings: ServiceSettings
) -> None:
    config = subscription.config(settings)
    main = consumer_queues(config)[-1]

    async def scenario() -> None:
        async with topology(config) as channel:
            await declare_classic(channel, config)
            for n in range(4):
                await publish(channel, config, created_body(task_id=n))
            older = await aio_pika.connect(AMQP_URL)
            old_channel = await older.channel()
            old_queue = await old_channel.declare_queue(config.queue, durable=True)
            await old_queue.consume(hold)  # takes the messages, never acks
            with pytest.raises(QueueMigrationError, match="consumer"):
                await ensure_queue(AMQP_URL, main, wait_seconds=0.5)
            await older.close()  # the older version stops: its messages return to the queue
            await ensure_queue(AMQP_URL, main, wait_seconds=5)
            assert await is_quorum(main)
            assert len(await drain(channel, config.queue)) == 4

    asyncio.run(scenario())


def test_a_message_delivered_too_often_without_an_outcome_reaches_the_dead_letters(
    subscription: Subscription[TaskEvent], settings: ServiceSettings
) -> None:
    config = subscription.config(settings)

    async def scenario() -> None:
        async with topology(config) as channel:
            await declare_consumer_queues(channel, config)
            await publish(channel, config, created_body(task_id=1))
            queue = await channel.declare_queue(config.queue, passive=True)
            returns = 0
            while (message := await queue.get(fail=False)) is not None:
                await message.nack(requeue=True)  # as when its consumer dies holding it
                returns += 1
                assert returns <= DELIVERY_LIMIT + 1
            assert returns == DELIVERY_LIMIT + 1
            dead = await dead_letter(channel, config)
            assert TaskEvent.model_validate_json(dead.body).task_id == 1
            assert DeadLetter.of(dead).error == DELIVERY_LIMIT_ERROR

    asyncio.run(scenario())
