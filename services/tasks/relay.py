"""The outbox relay: publishes committed task events to RabbitMQ, in order, confirmed.

    python -m services.tasks.relay

It claims the oldest unpublished outbox rows (`FOR UPDATE SKIP LOCKED`, so several relays can
run), publishes each as a persistent message and waits for the broker's confirm, then marks the
rows published in the same transaction. A crash between the two re-publishes the batch: the
delivery is at least once, and consumers drop duplicates by `event_id`. It sleeps until
PostgreSQL's NOTIFY (sent by every write) or `poll_seconds`, and rides out restarts of
RabbitMQ or PostgreSQL by retrying; nothing is lost meanwhile, the backlog drains when they
are back.
"""

import asyncio
import json
import signal
from datetime import UTC, datetime

import aio_pika
import psycopg2
import psycopg2.extensions
import structlog
from aio_pika.abc import AbstractExchange
from sqlalchemy import make_url

from services.tasks import repository
from services.tasks.config import TasksSettings
from services.tasks.models import OUTBOX_CHANNEL, OutboxEvent
from shared import heartbeat
from shared.db import CONNECT_ARGS, Database
from shared.logging import configure_logging
from shared.messaging import connect_until_stopped, declare_events_exchange, sleep_unless

logger = structlog.get_logger(__name__)
PUBLISH_TIMEOUT_SECONDS = 10.0


class OutboxListener:
    """LISTEN on the outbox channel; `wait` returns early when a write commits."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._connection: psycopg2.extensions.connection | None = None
        self._fd = -1
        self._woken = asyncio.Event()

    def _connect(self) -> psycopg2.extensions.connection:
        """Blocking: runs in a thread, bounded by the connect timeout."""
        connection: psycopg2.extensions.connection = psycopg2.connect(self._dsn, **CONNECT_ARGS)
        connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {OUTBOX_CHANNEL}")  # a constant: LISTEN takes no parameter
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

    async def wait(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep until a NOTIFY arrives, `stop` is set, or `seconds` pass."""
        if self._connection is None:
            try:
                self._listen(await asyncio.to_thread(self._connect))
            except psycopg2.Error as exc:
                logger.warning("outbox_listen_failed", error=str(exc))
        waiters = [asyncio.ensure_future(self._woken.wait()), asyncio.ensure_future(stop.wait())]
        _, pending = await asyncio.wait(waiters, timeout=seconds, return_when="FIRST_COMPLETED")
        for waiter in pending:
            waiter.cancel()
        self._woken.clear()

    def close(self) -> None:
        if self._connection is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._connection.close()
            self._connection = None


class OutboxRelay:
    """Moves outbox rows to the events exchange; see the module docstring."""

    def __init__(self, settings: TasksSettings, *, database: Database | None = None) -> None:
        self.settings = settings
        self.database = database or Database(settings.database_url, pool_size=1)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set."""
        listener = OutboxListener(self.settings.database_url)
        connection = await connect_until_stopped(
            self.settings.amqp_url, stop, retry_seconds=self.settings.relay_retry_seconds
        )
        try:
            if connection is None:
                return
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await declare_events_exchange(channel, self.settings.events_exchange)
            logger.info("relay_started", exchange=self.settings.events_exchange)
            while not stop.is_set():
                try:
                    published = await self.publish_batch(exchange)
                except Exception as exc:  # broker or database down: retry, nothing is lost
                    logger.warning("relay_publish_failed", error=repr(exc))
                    await sleep_unless(stop, self.settings.relay_retry_seconds)
                    continue
                if published < self.settings.relay_batch_size:
                    await listener.wait(self.settings.relay_poll_seconds, stop)
        finally:
            listener.close()
            if connection is not None:
                await connection.close()

    async def publish_batch(self, exchange: AbstractExchange) -> int:
        """Publish one batch of unpublished events; returns how many."""
        with self.database.sessionmaker() as session:
            rows = await asyncio.to_thread(
                repository.claim_unpublished, session, limit=self.settings.relay_batch_size
            )
            for row in rows:
                await exchange.publish(
                    outbox_message(row), routing_key=row.event_type, timeout=PUBLISH_TIMEOUT_SECONDS
                )
            if rows:
                ids = [row.id for row in rows]
                await asyncio.to_thread(
                    repository.mark_published, session, ids=ids, at=datetime.now(UTC)
                )
            await asyncio.to_thread(session.commit)
            if rows:
                logger.info("events_published", count=len(rows), last_id=rows[-1].id)
            return len(rows)


def outbox_message(row: OutboxEvent) -> aio_pika.Message:
    """The AMQP message of one stored event."""
    return aio_pika.Message(
        body=_json_bytes(row),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(row.event_id),
        type=row.event_type,
        timestamp=row.created_at,
    )


def _json_bytes(row: OutboxEvent) -> bytes:
    return json.dumps(row.payload, separators=(",", ":")).encode()


async def _main() -> None:
    settings = TasksSettings()
    configure_logging(service="tasks-relay", level=settings.log_level, json=settings.log_json)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    beating = heartbeat.start(settings.heartbeat_file, stop)
    await OutboxRelay(settings).run(stop)
    if beating is not None:
        await beating


if __name__ == "__main__":
    asyncio.run(_main())
