"""Re-publish a producer's whole event history to one consumer's queue, to rebuild its model.

    python -m services.tasks.manage replay --queue kpi.task-events
    python -m services.auth.manage replay --queue kpi.user-events

Every outbox row, published or not, in order of creation, goes through the default exchange
straight to that queue only: other consumers see nothing. The consumer drops events it has
already applied (by `event_id`), so a replay into a read model that was not reset is harmless.
"""

import argparse
import asyncio

import aio_pika
import structlog
from aio_pika.exceptions import ChannelNotFoundEntity

from shared.db import Database
from shared.outbox import Outbox, events_after
from shared.relay import outbox_message
from shared.settings import ServiceSettings

logger = structlog.get_logger(__name__)
BATCH = 500


class UnknownQueueError(Exception):
    """The named consumer queue does not exist (its consumer never ran)."""


async def replay(settings: ServiceSettings, *, outbox: Outbox, queue: str) -> int:
    """Publish every event of `outbox` to `queue`, confirmed, oldest first; returns how many."""
    database = Database(settings.database_url, pool_size=1)
    connection = await aio_pika.connect(settings.amqp_url)
    count, last_id = 0, 0
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        try:
            await channel.declare_queue(queue, passive=True)
        except ChannelNotFoundEntity as exc:
            raise UnknownQueueError(
                f"there is no queue {queue!r}: start its consumer once"
            ) from exc
        while True:
            with database.sessionmaker() as session:
                rows = events_after(session, outbox, after_id=last_id, limit=BATCH)
            if not rows:
                break
            for row in rows:
                await channel.default_exchange.publish(outbox_message(row), routing_key=queue)
            count, last_id = count + len(rows), rows[-1].id
            logger.info("replay_progress", queue=queue, published=count)
    finally:
        await connection.close()
        database.dispose()
    return count


def replay_command(
    parser: argparse.ArgumentParser, settings: ServiceSettings, *, outbox: Outbox, queue: str
) -> None:
    """`manage replay --queue ...` of a producer: replay, say how many, exit 2 on no queue."""
    try:
        count = asyncio.run(replay(settings, outbox=outbox, queue=queue))
    except UnknownQueueError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"replayed {count} events to {queue}")
