"""Re-publish the whole event history to one consumer's queue, so it can rebuild its read model.

    python -m services.tasks.manage replay --queue kpi.task-events

Every outbox row, published or not, in order of creation, goes through the default exchange
straight to that queue only: other consumers see nothing. The consumer drops events it has
already applied (by `event_id`), so a replay into a read model that was not reset is harmless.
"""

import aio_pika
import structlog
from aio_pika.exceptions import ChannelNotFoundEntity
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.tasks.config import TasksSettings
from services.tasks.models import OutboxEvent
from services.tasks.relay import outbox_message
from shared.db import Database

logger = structlog.get_logger(__name__)
BATCH = 500


class UnknownQueueError(Exception):
    """The named consumer queue does not exist (its consumer never ran)."""


def _batch(session: Session, *, after_id: int) -> list[OutboxEvent]:
    query = select(OutboxEvent).where(OutboxEvent.id > after_id).order_by(OutboxEvent.id)
    return list(session.scalars(query.limit(BATCH)))


async def replay(settings: TasksSettings, *, queue: str) -> int:
    """Publish every stored event to `queue`, confirmed, oldest first; returns how many."""
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
                rows = _batch(session, after_id=last_id)
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
