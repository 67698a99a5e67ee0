"""Event consumers: idempotent, ack after commit, bounded retries, then a dead-letter queue.

Each consumer has one durable quorum queue bound to an events exchange, plus two of its own
(quorum queues too, see `shared/messaging/queues.py`):

    <queue>          bound to its exchange (`tasks.events` with `task.#`, `auth.events` with
                     `user.#`); what the handler reads
    <queue>.retry    a failed message waits here `retry_delay_ms`, then returns to <queue>
    <queue>.dead     a message that failed `max_attempts` times (headers `x-attempt` and
                     `x-last-error`), or that the broker delivered `DELIVERY_LIMIT` times
                     without an outcome; nothing is dropped silently

Messages are applied in batches (the database half, `EventApplier`, is in
`shared/messaging/applying.py`):
what the prefetch has delivered, up to `batch_size`, in one database transaction that also
records each `event_id` in the service's `processed_event` table (for a row-per-event read
model, `RowPerEvent`, one autocommit statement does both); they are acked only after that
commit, so a redelivered or duplicated event changes nothing. If any message of a batch
fails, the transaction is rolled back and the batch applied again one message per
transaction, so only the failing one goes to retry or dead letters and its neighbours are
applied. An unreachable database is not the messages' fault: the consumer waits and tries the
same batch again, without counting an attempt. A statement timeout, a deadlock or a
serialization failure is not an outage (`shared.core.db.classify`): it is tried again
`db_retries` times at once, then fails like any other error.

While it handles a message, its log lines name the request that caused it and, with tracing
on, it is a span of that request's trace (`shared/messaging/handling.py`).
"""

import asyncio
import contextlib

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError

from shared.core import tracing
from shared.core.db import Database, DatabaseFailure, classify
from shared.messaging import metrics
from shared.messaging.applying import (
    BatchHandler,
    ClaimingStatement,
    EventApplier,
    EventT,
    Handler,
    Outcome,
    PoisonMessageError,
    RowPerEvent,
    parse_event,
    processed_event_table,
)
from shared.messaging.broker import connect_until_stopped, copy_of, sleep_unless
from shared.messaging.handling import Handling
from shared.messaging.pacing import EventRate
from shared.messaging.queues import ConsumerConfig, consumer_queues, declare_consumer_queues

# The names below were declared here before the applying and queue halves moved out:
# importers keep finding them here.
__all__ = [
    "ATTEMPT_HEADER",
    "ERROR_HEADER",
    "BatchHandler",
    "ConsumerConfig",
    "EventConsumer",
    "EventT",
    "Handler",
    "Outcome",
    "PoisonMessageError",
    "RowPerEvent",
    "consumer_queues",
    "declare_consumer_queues",
    "parse_event",
    "processed_event_table",
]

logger = structlog.get_logger(__name__)

ATTEMPT_HEADER = "x-attempt"
ERROR_HEADER = "x-last-error"


class _Stopped(Exception):
    """The consumer is stopping while the database is unreachable."""


class EventConsumer(EventApplier[EventT]):
    """Consumes events of type `model` from its queue and applies them; see the module
    docstring."""

    def __init__(
        self,
        config: ConsumerConfig,
        *,
        model: type[EventT],
        database: Database,
        processed: Table,
        handler: Handler[EventT] | None = None,
        batch_handler: BatchHandler[EventT] | None = None,
        rows: RowPerEvent[EventT] | ClaimingStatement[EventT] | None = None,
    ) -> None:
        super().__init__(
            model=model,
            database=database,
            processed=processed,
            handler=handler,
            batch_handler=batch_handler,
            rows=rows,
        )
        self.config = config
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._pending: list[AbstractIncomingMessage] = []
        self._rate = EventRate()
        # The first batch waits as a busy one does: a backlog waiting for the consumer at its
        # start is then taken in whole batches from the first one.
        self._first = True
        self._arrived = asyncio.Event()
        # Strong references: aio-pika keeps only weak ones, and a collected queue stops consuming.
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._connection: AbstractRobustConnection | None = None

    @property
    def idle(self) -> bool:
        """No delivered message waits here and no batch is being applied."""
        return not self._pending and not self._lock.locked()

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
        self._connection = connection
        try:
            # A copy no queue takes must raise, not pass for delivered (`on_return_raises`).
            self._channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            await self._channel.set_qos(prefetch_count=self.config.prefetch)
            draining = asyncio.create_task(self._drain())
            await self._subscribe()
            watching = asyncio.create_task(self._keep_subscribed())
            logger.info("consumer_started", queue=self.config.queue)
            await stop.wait()
            self._arrived.set()
            await draining  # the batch in hand finishes; the rest go back to the queue
            await watching
        finally:
            async with self._lock:
                await connection.close()

    async def _subscribe(self) -> None:
        """Declare the queues and consume the main one (again: forgetting the old subscription,
        which aio-pika would otherwise revive after a reconnection)."""
        assert self._channel is not None
        assert self._connection is not None
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
        # On a channel of its own: a queue declared otherwise (406) closes only that one.
        async with self._connection.channel() as channel:
            await self.declare(channel)
        self._queue = await self.declare(self._channel)
        self._tag = await self._queue.consume(self._on_message)

    async def _keep_subscribed(self) -> None:
        """Subscribe again when the broker cancelled the subscription (its queue deleted and
        declared again, a node lost) while the connection stayed up."""
        while not self._stop.is_set():
            await sleep_unless(self._stop, self.config.resubscribe_seconds)
            if (
                self._stop.is_set()
                or not self._connection
                or not self._connection.connected.is_set()
            ):
                continue  # a lost connection: aio-pika subscribes again once it is back
            await self._count_dead_letters()
            if await self.is_consuming():
                continue
            try:
                await self._subscribe()
            except Exception as exc:  # e.g. the queue is declared otherwise: try again later
                logger.error(
                    "consumer_resubscribe_failed", queue=self.config.queue, error=repr(exc)
                )
            else:
                logger.warning("consumer_resubscribed", queue=self.config.queue)

    async def _count_dead_letters(self) -> None:
        """Set `efficient_consumer_dead_letters` from the broker's count of <queue>.dead."""
        assert self._connection is not None
        with contextlib.suppress(TimeoutError, aio_pika.exceptions.AMQPError):
            async with asyncio.timeout(2.0), self._connection.channel() as probe:
                dead = await probe.declare_queue(self.config.dead_queue, passive=True)
            count = dead.declaration_result.message_count or 0
            metrics.DEAD_LETTERS.labels(self.config.queue).set(count)

    async def is_consuming(self) -> bool:
        """True while the broker delivers this consumer's queue to it (its liveness).

        Both sides are asked: the channel must hold the subscription (a cancel from the broker
        removes it), and the broker must know the queue and count a consumer on it.
        """
        if self._channel is None or self._tag is None or self._connection is None:
            return False
        try:
            async with asyncio.timeout(2.0):
                channel = await self._channel.get_underlay_channel()
                if not isinstance(channel, aiormq.Channel) or self._tag not in channel.consumers:
                    return False
                async with self._connection.channel() as probe:  # a 404 closes only this
                    queue = await probe.declare_queue(self.config.queue, passive=True)
        except (TimeoutError, aio_pika.exceptions.AMQPError):
            return False
        return bool(queue.declaration_result.consumer_count)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._pending.append(message)
        self._arrived.set()

    async def _drain(self) -> None:
        """Apply what has arrived, a batch at a time, until `stop` is set.

        Each batch is gathered anew: what arrived while the last one was applied waits for the
        rest of its burst too when the consumer is busy, instead of going out as a small batch.
        """
        while not self._stop.is_set():
            await self._arrived.wait()
            if self._first or self._rate.busy(self.config.linger_above_per_second):
                await self._linger()
            self._first = False
            self._arrived.clear()
            if self._pending and not self._stop.is_set():
                batch = self._pending[: self.config.batch_size]
                del self._pending[: len(batch)]
                self._rate.add(len(batch))
                await self._apply_batch(batch)
            if self._pending:
                self._arrived.set()  # the next batch is waiting already

    async def _apply_batch(self, batch: list[AbstractIncomingMessage]) -> None:
        async with self._lock:
            try:
                with Handling(batch, queue=self.config.queue) as handling:
                    await self._apply(batch, handling)
            except Exception as exc:  # e.g. the channel closed under an ack: go on
                # What was not acked is delivered again once the channel is back.
                logger.error("consumer_batch_failed", queue=self.config.queue, error=repr(exc))

    async def _linger(self) -> None:
        """Wait until the burst that woke us is in: a batch's worth, a quiet gap, or the limit."""
        config = self.config
        deadline = asyncio.get_running_loop().time() + config.linger_seconds
        while len(self._pending) < config.batch_size and not self._stop.is_set():
            seen = len(self._pending)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(config.linger_quiet_seconds, remaining))
            if len(self._pending) == seen:
                return

    async def _apply(self, batch: list[AbstractIncomingMessage], handling: Handling) -> None:
        readable: list[tuple[AbstractIncomingMessage, EventT]] = []
        for message in batch:
            try:
                readable.append((message, parse_event(message.body, self.model)))
            except PoisonMessageError as exc:
                with handling.of(message):
                    await self._retry_or_dead_letter(message, exc)
        if readable:
            with handling.batch([message for message, _ in readable]):
                await self._apply_readable(readable, handling)

    async def _apply_readable(
        self, readable: list[tuple[AbstractIncomingMessage, EventT]], handling: Handling
    ) -> None:
        """Apply the batch's events in one transaction (one by one if that fails); ack them."""
        try:
            outcomes = await self._with_database([event for _, event in readable])
        except _Stopped:
            for message, _ in readable:
                await message.nack(requeue=True)  # another instance will take them
            return
        except Exception:  # one of them fails: apply them one by one, to find which
            for message, event in readable:
                with handling.of(message):
                    await self._apply_one(message, event)
            return
        await _ack_together([message for message, _ in readable])
        metrics.count_consumed(self.config.queue, [event for _, event in readable], outcomes)
        logger.debug(  # per batch: under load, a line every few milliseconds
            "events_consumed",
            queue=self.config.queue,
            applied=outcomes.count(Outcome.APPLIED),
            duplicates=outcomes.count(Outcome.DUPLICATE),
        )

    async def _apply_one(self, message: AbstractIncomingMessage, event: EventT) -> None:
        try:
            [outcome] = await self._with_database([event])
        except _Stopped:
            await message.nack(requeue=True)
            return
        except Exception as exc:  # a bad event or a bug: bounded retries, then dead letters
            await self._retry_or_dead_letter(message, exc)
            return
        await message.ack()
        metrics.count_consumed(self.config.queue, [event], [outcome])
        logger.info("event_consumed", message_id=message.message_id, outcome=outcome.value)

    async def _with_database(self, events: list[EventT]) -> list[Outcome]:
        """`process_batch(events)` in a thread, waiting out a database outage until `stop`;
        a timeout, deadlock or serialization failure is tried again `db_retries` times."""
        tries = 0
        while True:
            try:
                return await asyncio.to_thread(self.process_batch, events)
            except DBAPIError as exc:
                kind = classify(exc)
                if kind is DatabaseFailure.OUTAGE:
                    if self._stop.is_set():
                        raise _Stopped() from exc
                    logger.warning("consumer_database_unavailable", error=repr(exc))
                    await sleep_unless(self._stop, self.config.db_retry_seconds)
                    continue
                if kind is DatabaseFailure.ERROR or tries >= self.config.db_retries:
                    raise
                tries += 1
                logger.warning("consumer_database_retry", kind=kind.value, error=repr(exc))

    async def _retry_or_dead_letter(self, message: AbstractIncomingMessage, exc: Exception) -> None:
        assert self._channel is not None
        previous = message.headers.get(ATTEMPT_HEADER)
        attempt = previous if isinstance(previous, int) else 1
        final = attempt >= self.config.max_attempts
        target = self.config.dead_queue if final else self.config.retry_queue
        headers = {**message.headers, ATTEMPT_HEADER: attempt + 1, ERROR_HEADER: repr(exc)[:1000]}
        try:
            await self._channel.default_exchange.publish(
                copy_of(message, headers=headers), routing_key=target
            )
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
        metrics.count_failed(self.config.queue, dead_lettered=final)
        tracing.fail_current_span(exc)
        log = logger.error if final else logger.warning
        log(
            "event_failed",
            message_id=message.message_id,
            attempt=attempt,
            to=target,
            error=repr(exc),
        )


async def _ack_together(messages: list[AbstractIncomingMessage]) -> None:
    """Ack `messages` with one `basic.ack` (`multiple`) per channel, on the last of each.

    They are a batch in delivery order, and every delivery before them on their channel is
    settled already (earlier batches, and this batch's unreadable ones, were acked or
    rejected first), so "up to and including" the last one acks exactly these.
    """
    last_of_channel: dict[int, AbstractIncomingMessage] = {}
    for message in messages:
        last_of_channel[id(message.channel)] = message
    for message in last_of_channel.values():
        await message.ack(multiple=True)
