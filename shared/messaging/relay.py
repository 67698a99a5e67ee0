"""The outbox relay: publishes a producer's committed events to RabbitMQ, in order, confirmed.

    python -m services.tasks.relay      # tasks.outbox -> tasks.events
    python -m services.auth.relay       # auth.outbox  -> auth.events

One implementation, configured per producer (`RelayConfig`). In one statement it claims the
oldest unpublished outbox rows (`FOR UPDATE SKIP LOCKED`, so several relays can run) and marks
them published, publishes them as persistent messages (routing key = event type) with their
confirms outstanding together, unmarks any the broker did not confirm, and only then commits;
the transaction waits on the broker at most `PUBLISH_TIMEOUT_SECONDS`. A crash before the
commit rolls the mark back and re-publishes the batch:
the delivery is at least once, and consumers drop duplicates by `event_id`. It sleeps until
PostgreSQL's NOTIFY (sent by every outbox write) or `poll_seconds`, and rides out restarts of
RabbitMQ or PostgreSQL by retrying; nothing is lost meanwhile, the backlog drains when they
are back.

Each message carries the request that wrote its row (headers `x-request-id` and, with tracing
on, `traceparent`/`tracestate` of a `publish <exchange>` span, child of that request's span).
"""

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aio_pika
import psycopg2
import psycopg2.extensions
import structlog
from aio_pika.abc import AbstractExchange, HeadersType
from sqlalchemy import make_url
from sqlalchemy.orm import Session

from shared.core import tracing
from shared.core.context import REQUEST_ID_MESSAGE_HEADER
from shared.core.db import CONNECT_ARGS, Database
from shared.core.settings import RelaySettings
from shared.messaging import metrics as event_metrics
from shared.messaging.broker import connect_until_stopped, declare_events_exchange, sleep_unless
from shared.messaging.outbox import (
    ClaimFloor,
    Outbox,
    StoredEvent,
    claim_unpublished,
    unmark_published,
)
from shared.messaging.pacing import EventRate
from shared.messaging.worker import Work, run_worker

logger = structlog.get_logger(__name__)
PUBLISH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class RelayConfig:
    """Which outbox a relay drains, to which exchange, and how often it looks."""

    outbox: Outbox
    database_url: str
    amqp_url: str
    exchange: str
    batch_size: int = 100
    poll_seconds: float = 1.0
    retry_seconds: float = 2.0
    # Once woken, a relay taking more than `linger_above_per_second` events a second (over the last
    # second) waits `linger_seconds` for the writes committing behind the first one: a batch then
    # carries many events for one claim, one publish burst and one commit, and every consumer gets
    # bigger batches too (`shared.messaging.pacing`). Below that rate the machine has room to spare,
    # and the relay claims at once: each write's event goes out with the least delay.
    linger_seconds: float = 0.05
    linger_above_per_second: float = 300.0

    @classmethod
    def from_settings(
        cls, settings: RelaySettings, *, outbox: Outbox, exchange: str
    ) -> "RelayConfig":
        """The relay of `outbox` as the producer's settings configure it."""
        return cls(
            outbox=outbox,
            database_url=settings.database_url,
            amqp_url=settings.amqp_url,
            exchange=exchange,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            retry_seconds=settings.relay_retry_seconds,
            linger_seconds=settings.relay_linger_seconds,
            linger_above_per_second=settings.relay_linger_above_per_second,
        )


class OutboxListener:
    """LISTEN on an outbox channel; `wait` returns early when a write commits."""

    def __init__(self, database_url: str, *, channel: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._channel = channel
        self._connection: psycopg2.extensions.connection | None = None
        self._fd = -1
        self._woken = asyncio.Event()

    def _connect(self) -> psycopg2.extensions.connection:
        """Blocking: runs in a thread, bounded by the connect timeout."""
        connection: psycopg2.extensions.connection = psycopg2.connect(self._dsn, **CONNECT_ARGS)
        connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {self._channel}")  # a constant of the producer's code
        return connection

    def _listen(self, connection: psycopg2.extensions.connection) -> None:
        self._fd = connection.fileno()
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)
        self._connection = connection

    def _on_readable(self) -> None:
        assert self._connection is not None
        try:
            self._connection.poll()
            self._connection.notifies.clear()
        except psycopg2.Error:
            self.close()  # reconnect on the next wait; the poll interval covers the gap
        self._woken.set()

    async def listen(self) -> None:
        """LISTEN unless already listening; a failure is logged (the poll interval covers it)."""
        if self._connection is None:
            try:
                self._listen(await asyncio.to_thread(self._connect))
            except psycopg2.Error as exc:
                logger.warning("outbox_listen_failed", error=str(exc))

    async def wait(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep until a NOTIFY arrives (or arrived since the last wait), `stop` is set, or
        `seconds` pass."""
        await self.listen()
        waiters = [asyncio.ensure_future(self._woken.wait()), asyncio.ensure_future(stop.wait())]
        _, pending = await asyncio.wait(waiters, timeout=seconds, return_when="FIRST_COMPLETED")
        for waiter in pending:
            waiter.cancel()
        self._woken.clear()

    def close(self) -> None:
        """Stop listening and close the connection."""
        if self._connection is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._connection.close()
            self._connection = None


class OutboxRelay:
    """Moves outbox rows to the events exchange; see the module docstring."""

    def __init__(self, config: RelayConfig, *, database: Database | None = None) -> None:
        self.config = config
        self.database = database or Database(config.database_url, pool_size=1)
        self.floor = ClaimFloor()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set."""
        config = self.config
        listener = OutboxListener(config.database_url, channel=config.outbox.channel)
        connection = await connect_until_stopped(
            config.amqp_url, stop, retry_seconds=config.retry_seconds
        )
        try:
            if connection is None:
                return
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await declare_events_exchange(channel, config.exchange)
            # Listen before the first claim: a write committed between a claim and the next
            # wait then still wakes that wait.
            await listener.listen()
            logger.info("relay_started", exchange=config.exchange)
            rate = EventRate()
            while not stop.is_set():
                try:
                    published = await self.publish_batch(exchange)
                except Exception as exc:  # broker or database down: retry, nothing is lost
                    logger.warning("relay_publish_failed", error=repr(exc))
                    await sleep_unless(stop, config.retry_seconds)
                    continue
                rate.add(published)
                if published < config.batch_size:
                    await listener.wait(config.poll_seconds, stop)
                    if rate.busy(config.linger_above_per_second):
                        await sleep_unless(stop, config.linger_seconds)
        finally:
            listener.close()
            if connection is not None:
                await connection.close()

    async def publish_batch(self, exchange: AbstractExchange) -> int:
        """Publish one batch of unpublished events; returns how many."""
        try:
            rows = await self._publish_after(exchange, self.floor.next(time.monotonic()))
        except BaseException:
            self.floor.reset()  # rows may have been left unpublished behind the floor
            raise
        self.floor.claimed([row.id for row in rows])
        return len(rows)

    async def _publish_after(self, exchange: AbstractExchange, after_id: int) -> list[StoredEvent]:
        outbox = self.config.outbox
        with self.database.sessionmaker() as session:
            # Claimed and marked in one statement; only the commit after the confirms makes
            # the mark stick (a crash or a broker error before it rolls it back).
            rows = await asyncio.to_thread(
                claim_unpublished,
                session,
                outbox,
                limit=self.config.batch_size,
                after_id=after_id,
            )
            confirmed = await _publish_all(exchange, rows)
            unconfirmed = [row.id for row in rows[len(confirmed) :]]
            await asyncio.to_thread(_commit, session, outbox, unconfirmed=unconfirmed)
            event_metrics.EVENTS_PUBLISHED.labels(self.config.exchange).inc(len(confirmed))
            if confirmed:
                logger.debug(  # per batch: under load, a line every few milliseconds
                    "events_published", count=len(confirmed), last_id=confirmed[-1].id
                )
            if unconfirmed:
                raise PublishError(f"{len(unconfirmed)} events were not confirmed")
            return rows


def _commit(session: Session, outbox: Outbox, *, unconfirmed: list[int]) -> None:
    """Unmark what the broker did not confirm and end the batch's transaction (one thread hop)."""
    if unconfirmed:
        unmark_published(session, outbox, ids=unconfirmed)
    session.commit()


class PublishError(Exception):
    """The broker refused or did not confirm some events of a batch; they stay unpublished."""


async def _publish_all(exchange: AbstractExchange, rows: list[StoredEvent]) -> list[StoredEvent]:
    """Publish `rows` in order with their confirms outstanding together; the confirmed prefix.

    The messages go out one after the other on one channel, so the broker keeps their order;
    their confirms are awaited together, as the broker sends them. Only the rows up to the
    first one that was not confirmed (a nack, a return, a timeout) count as published: the
    rest are published again, in order, by the next batch (consumers drop the duplicates).
    With tracing on, each is a `publish` span, child of the request that wrote the row.
    """
    spans = []
    if tracing.enabled():
        spans = [
            tracing.start_message_span(
                "send",
                exchange.name,
                message_id=str(row.event_id),
                parent=row.trace_context,
                attributes={"messaging.rabbitmq.destination.routing_key": row.event_type},
            )
            for row in rows
        ]
    outcomes = await asyncio.gather(
        *(
            exchange.publish(
                outbox_message(
                    row, trace_context=tracing.headers_of(spans[i]) if spans else row.trace_context
                ),
                routing_key=row.event_type,
                timeout=PUBLISH_TIMEOUT_SECONDS,
            )
            for i, row in enumerate(rows)
        ),
        return_exceptions=True,
    )
    for span, outcome in zip(spans, outcomes, strict=False):  # no spans: tracing is off
        tracing.end_span(span, outcome if isinstance(outcome, BaseException) else None)
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, BaseException):
            logger.warning(
                "event_not_confirmed", event_id=str(rows[index].event_id), error=repr(outcome)
            )
            return rows[:index]
    return rows


def outbox_message(
    row: StoredEvent, *, trace_context: Mapping[str, str] | None = None
) -> aio_pika.Message:
    """The AMQP message of one stored event.

    Its headers name the request that wrote it (`x-request-id`) and carry the W3C headers
    `trace_context` if given: the relay's publish span (tracing on), or else what the request
    stored; a replay sends none (its applies are not part of that request's trace).
    """
    headers: HeadersType = {}
    if row.request_id is not None:
        headers[REQUEST_ID_MESSAGE_HEADER] = row.request_id
    headers.update(trace_context or {})
    return aio_pika.Message(
        body=json.dumps(row.payload, separators=(",", ":")).encode(),
        headers=headers,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(row.event_id),
        type=row.event_type,
        timestamp=row.created_at,
    )


def run_relay(*, service: str, settings: RelaySettings, config: RelayConfig) -> None:
    """Entry point of a relay process: run until SIGINT or SIGTERM."""

    def start() -> Work:
        relay = OutboxRelay(config)
        event_metrics.watch_outbox(relay.database, config.outbox)
        return Work(database=relay.database, run=relay.run)

    run_worker(service=service, settings=settings, start=start)
