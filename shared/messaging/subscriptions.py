"""A consumer process: the queues it reads (`Subscription`), declared at deploy time, and run.

python -m services.kpi.consumer      # e.g. kpi.task-events and kpi.user-events
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic

import aio_pika
from sqlalchemy import Table

from shared.core.db import Database
from shared.core.settings import ServiceSettings
from shared.messaging.applying import (
    BatchHandler,
    ClaimingStatement,
    EventT,
    Handler,
    RowPerEvent,
)
from shared.messaging.broker import declare_events_exchange, declare_unrouted_exchange
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import (
    ConsumerConfig,
    QueueMigrationError,
    consumer_queues,
    ensure_queue,
    unrouted_queue,
)
from shared.messaging.worker import Work, run_worker


@dataclass(frozen=True)
class Subscription(Generic[EventT]):
    """One queue a consumer process reads: from which exchange, which events, and their handler."""

    queue: str
    exchange: str
    binding_key: str
    model: type[EventT]
    handler: Handler[EventT] | None = None
    batch_handler: BatchHandler[EventT] | None = None
    # Instead of a handler: the statement that writes a batch (`shared.messaging.applying`).
    rows: RowPerEvent[EventT] | ClaimingStatement[EventT] | None = None

    def config(self, settings: ServiceSettings) -> ConsumerConfig:
        """The consumer's broker side, with the service's broker URL."""
        return ConsumerConfig(
            amqp_url=settings.amqp_url,
            exchange=self.exchange,
            queue=self.queue,
            binding_key=self.binding_key,
            db_retries=settings.consumer_db_retries,
            linger_above_per_second=settings.consumer_linger_above_per_second,
            linger_seconds=settings.consumer_linger_seconds,
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
            batch_handler=self.batch_handler,
            rows=self.rows,
        )


def ensure_consumer_queues(
    settings: ServiceSettings, subscriptions: Sequence[Subscription[Any]]
) -> None:
    """At deploy time, before anything publishes: the queues exist, so no event passes them by.

    A queue from an older version (a classic queue) is rebuilt as a quorum queue with its
    messages (`shared.messaging.queues.ensure_queue`); while its old consumers still run, this exits
    with an error saying so.
    """

    async def declare() -> None:
        connection = await aio_pika.connect(settings.amqp_url)
        try:
            for subscription in subscriptions:
                config = subscription.config(settings)
                async with connection.channel() as channel:
                    await declare_unrouted_exchange(channel, config.exchange)
                await ensure_queue(settings.amqp_url, unrouted_queue(config.exchange))
                async with connection.channel() as channel:
                    await declare_events_exchange(channel, config.exchange)
                for spec in consumer_queues(config):
                    await ensure_queue(settings.amqp_url, spec)
        finally:
            await connection.close()

    try:
        asyncio.run(declare())
    except QueueMigrationError as exc:  # the operator's move: say what, without a traceback
        raise SystemExit(f"error: {exc}") from exc


def run_consumers(
    *,
    service: str,
    settings: ServiceSettings,
    processed: Table,
    subscriptions: Sequence[Subscription[Any]],
) -> None:
    """Entry point of a consumer process: one consumer per subscription, until SIGINT or SIGTERM.

    The consumers share the process's database pool, its `processed` table and its heartbeat,
    which beats only while every one of them is subscribed.
    """

    def start() -> Work:
        database = Database(settings.database_url, pool_size=len(subscriptions) + 1)
        consumers = [
            subscription.consumer(settings, database=database, processed=processed)
            for subscription in subscriptions
        ]

        async def run(stop: asyncio.Event) -> None:
            await asyncio.gather(*(consumer.run(stop) for consumer in consumers))

        async def all_consuming() -> bool:
            return all([await consumer.is_consuming() for consumer in consumers])

        return Work(database=database, run=run, alive=all_consuming)

    run_worker(service=service, settings=settings, start=start)
