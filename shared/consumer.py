"""Task-event consumers: idempotent, ack after commit, bounded retries, then a dead-letter queue.

Each consumer service has one durable queue bound to the events exchange, plus two of its own:

    <queue>          bound to `tasks.events` with `task.#`; what the handler reads
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
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

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
from shared.events import TaskEvent
from shared.logging import configure_logging
from shared.messaging import connect_until_stopped, declare_events_exchange, sleep_unless
from shared.settings import ServiceSettings

logger = structlog.get_logger(__name__)

Handler = Callable[[Session, TaskEvent], None]
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
    """The message is not a task event this consumer can read."""


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class ConsumerConfig:
    amqp_url: str
    exchange: str
    queue: str
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


def parse_event(body: bytes) -> TaskEvent:
    """The event in a message body; `PoisonMessageError` when it is not one we can read."""
    try:
        return TaskEvent.model_validate_json(body)
    except ValidationError as exc:
        raise PoisonMessageError(str(exc)) from exc


class EventConsumer:
    """Applies task events with `handler`; see the module docstring."""

    def __init__(
        self, config: ConsumerConfig, *, database: Database, processed: Table, handler: Handler
    ) -> None:
        self.config = config
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
        event = parse_event(body)
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
    await queue.bind(exchange, routing_key="task.#")
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


def ensure_consumer_queues(settings: ServiceSettings, *, queue: str) -> None:
    """At deploy time, before anything publishes: the queue exists, so no event passes it by."""

    async def declare() -> None:
        connection = await aio_pika.connect(settings.amqp_url)
        try:
            await declare_consumer_queues(await connection.channel(), _config(settings, queue))
        finally:
            await connection.close()

    asyncio.run(declare())


def _config(settings: ServiceSettings, queue: str) -> ConsumerConfig:
    return ConsumerConfig(
        amqp_url=settings.amqp_url, exchange=settings.events_exchange, queue=queue
    )


def _is_disconnect(exc: DBAPIError) -> bool:
    """True when the database is unreachable (not when the data is wrong)."""
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)


def run_consumer(
    *, service: str, settings: ServiceSettings, queue: str, processed: Table, handler: Handler
) -> None:
    """Entry point of a consumer process: run until SIGINT or SIGTERM."""
    configure_logging(service=service, level=settings.log_level, json=settings.log_json)
    config = _config(settings, queue)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        database = Database(settings.database_url, pool_size=2)
        beating = heartbeat.start(settings.heartbeat_file, stop)
        try:
            consumer = EventConsumer(
                config, database=database, processed=processed, handler=handler
            )
            await consumer.run(stop)
        finally:
            stop.set()
            if beating is not None:
                await beating
            database.dispose()

    asyncio.run(main())
