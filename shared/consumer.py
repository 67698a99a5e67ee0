"""Event consumers: idempotent, ack after commit, bounded retries, then a dead-letter queue.

Each consumer has one durable queue bound to an events exchange, plus two of its own:

    <queue>          bound to its exchange (`tasks.events` with `task.#`, `auth.events` with
                     `user.#`); what the handler reads
    <queue>.retry    a failed message waits here `retry_delay_ms`, then returns to <queue>
    <queue>.dead     a message that failed `max_attempts` times; nothing is dropped silently

A message is applied in one database transaction that also records its `event_id` in the
service's `processed_event` table, and acked only after that commit: a redelivered or
duplicated event changes nothing. An unreachable database is not the message's fault: the
consumer waits and tries the same message again, without counting an attempt.
"""

import asyncio
import signal
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, Table, Uuid, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from shared import heartbeat
from shared.db import Database
from shared.events import Envelope
from shared.logging import configure_logging
from shared.messaging import connect_until_stopped, declare_events_exchange, sleep_unless
from shared.settings import ServiceSettings

logger = structlog.get_logger(__name__)

EventT = TypeVar("EventT", bound=Envelope)
Handler = Callable[[Session, EventT], None]
ATTEMPT_HEADER = "x-attempt"
ERROR_HEADER = "x-last-error"


def processed_event_table(metadata: MetaData) -> Table:
    """The ids of the events a consumer has applied, in its own schema."""
    return Table(
        "processed_event",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )


class PoisonMessageError(Exception):
    """The message is not an event this consumer can read."""


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class ConsumerConfig:
    amqp_url: str
    exchange: str
    queue: str
    binding_key: str  # e.g. `task.#`: which of the exchange's events the queue receives
    prefetch: int = 16
    max_attempts: int = 5
    retry_delay_ms: int = 2000
    db_retry_seconds: float = 2.0

    @property
    def retry_queue(self) -> str:
        return f"{self.queue}.retry"

    @property
    def dead_queue(self) -> str:
        return f"{self.queue}.dead"


def parse_event(body: bytes, model: type[EventT]) -> EventT:
    """The event in a message body; `PoisonMessageError` when it is not one we can read."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise PoisonMessageError(str(exc)) from exc


class EventConsumer(Generic[EventT]):
    """Applies events of type `model` with `handler`; see the module docstring."""

    def __init__(
        self,
        config: ConsumerConfig,
        *,
        model: type[EventT],
        database: Database,
        processed: Table,
        handler: Handler[EventT],
    ) -> None:
        self.config = config
        self.model = model
        self.database = database
        self.processed = processed
        self.handler = handler
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        # Strong references: aio-pika keeps only weak ones, and a collected queue stops consuming.
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None

    def process(self, body: bytes) -> Outcome:
        """Apply one message in one transaction, unless its event was applied before."""
        event = parse_event(body, self.model)
        with self.database.sessionmaker() as session:
            if not self._claim(session, event.event_id):
                return Outcome.DUPLICATE
            self.handler(session, event)
            session.commit()
        return Outcome.APPLIED

    def _claim(self, session: Session, event_id: uuid.UUID) -> bool:
        inserted = session.execute(
            insert(self.processed)
            .values(event_id=event_id)
            .on_conflict_do_nothing()
            .returning(self.processed.c.event_id)
        ).first()
        return inserted is not None

    async def declare(self, channel: AbstractChannel) -> AbstractQueue:
        """Declare (idempotently) this consumer's queues; see `declare_consumer_queues`."""
        return await declare_consumer_queues(channel, self.config)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set, reconnecting to RabbitMQ by itself."""
        self._stop = stop
        connection = await connect_until_stopped(
            self.config.amqp_url, stop, retry_seconds=self.config.db_retry_seconds
        )
        if connection is None:
            return
        try:
            # A copy no queue takes must raise, not pass for delivered (`on_return_raises`).
            self._channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await self._channel.set_qos(prefetch_count=self.config.prefetch)
            self._queue = await self.declare(self._channel)
            await self._queue.consume(self._on_message)
            logger.info("consumer_started", queue=self.config.queue)
            await stop.wait()
        finally:
            async with self._lock:  # let the message in hand finish
                await connection.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        async with self._lock:
            while True:
                try:
                    outcome = await asyncio.to_thread(self.process, message.body)
                except DBAPIError as exc:
                    if not _is_disconnect(exc):
                        await self._retry_or_dead_letter(message, exc)
                        return
                    if self._stop.is_set():
                        await message.nack(requeue=True)  # another instance will take it
                        return
                    logger.warning("consumer_database_unavailable", error=repr(exc))
                    await sleep_unless(self._stop, self.config.db_retry_seconds)
                    continue
                except Exception as exc:  # poison or a bug: bounded retries, then dead letters
                    await self._retry_or_dead_letter(message, exc)
                    return
                await message.ack()
                logger.info("event_consumed", message_id=message.message_id, outcome=outcome.value)
                return

    async def _retry_or_dead_letter(self, message: AbstractIncomingMessage, exc: Exception) -> None:
        assert self._channel is not None
        previous = message.headers.get(ATTEMPT_HEADER)
        attempt = previous if isinstance(previous, int) else 1
        final = attempt >= self.config.max_attempts
        target = self.config.dead_queue if final else self.config.retry_queue
        headers = {**message.headers, ATTEMPT_HEADER: attempt + 1, ERROR_HEADER: repr(exc)[:1000]}
        copy = aio_pika.Message(
            body=message.body,
            headers=headers,
            content_type=message.content_type,
            message_id=message.message_id,
            type=message.type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            await self._channel.default_exchange.publish(copy, routing_key=target)
        except Exception as publish_error:  # e.g. the queue is gone: the message goes back
            logger.error(
                "event_requeued",
                message_id=message.message_id,
                to=target,
                error=repr(publish_error),
            )
            await sleep_unless(self._stop, self.config.retry_delay_ms / 1000)
            await message.nack(requeue=True)
            return
        await message.ack()  # only once the copy is confirmed: never acked and dropped
        log = logger.error if final else logger.warning
        log(
            "event_failed",
            message_id=message.message_id,
            attempt=attempt,
            to=target,
            error=repr(exc),
        )


async def declare_consumer_queues(
    channel: AbstractChannel, config: ConsumerConfig
) -> AbstractQueue:
    """Declare (idempotently) the exchange, the queue and its retry and dead-letter queues."""
    exchange = await declare_events_exchange(channel, config.exchange)
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
    return queue


@dataclass(frozen=True)
class Subscription(Generic[EventT]):
    """One queue a consumer process reads: from which exchange, which events, and their handler."""

    queue: str
    exchange: str
    binding_key: str
    model: type[EventT]
    handler: Handler[EventT]

    def config(self, settings: ServiceSettings) -> ConsumerConfig:
        """The consumer's broker side, with the service's broker URL."""
        return ConsumerConfig(
            amqp_url=settings.amqp_url,
            exchange=self.exchange,
            queue=self.queue,
            binding_key=self.binding_key,
        )

    def consumer(
        self, settings: ServiceSettings, *, database: Database, processed: Table
    ) -> EventConsumer[EventT]:
        """The consumer of this queue."""
        return EventConsumer(
            self.config(settings),
            model=self.model,
            database=database,
            processed=processed,
            handler=self.handler,
        )


def ensure_consumer_queues(
    settings: ServiceSettings, subscriptions: Sequence[Subscription[Any]]
) -> None:
    """At deploy time, before anything publishes: the queues exist, so no event passes them by."""

    async def declare() -> None:
        connection = await aio_pika.connect(settings.amqp_url)
        try:
            channel = await connection.channel()
            for subscription in subscriptions:
                await declare_consumer_queues(channel, subscription.config(settings))
        finally:
            await connection.close()

    asyncio.run(declare())


def _is_disconnect(exc: DBAPIError) -> bool:
    """True when the database is unreachable (not when the data is wrong)."""
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)


def run_consumers(
    *,
    service: str,
    settings: ServiceSettings,
    processed: Table,
    subscriptions: Sequence[Subscription[Any]],
) -> None:
    """Entry point of a consumer process: one consumer per subscription, until SIGINT or SIGTERM.

    The consumers share the process's database pool, its `processed` table and its heartbeat.
    """
    configure_logging(service=service, level=settings.log_level, json=settings.log_json)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        database = Database(settings.database_url, pool_size=len(subscriptions) + 1)
        beating = heartbeat.start(settings.heartbeat_file, stop)
        try:
            consumers = [
                subscription.consumer(settings, database=database, processed=processed)
                for subscription in subscriptions
            ]
            await asyncio.gather(*(consumer.run(stop) for consumer in consumers))
        finally:
            stop.set()
            if beating is not None:
                await beating
            database.dispose()

    asyncio.run(main())
