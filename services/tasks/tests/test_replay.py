"""Replaying the event history into one consumer's queue (real PostgreSQL and RabbitMQ)."""

import asyncio
import uuid

import aio_pika
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.tasks import service
from services.tasks.config import TasksSettings
from services.tasks.models import OUTBOX, OutboxEvent
from services.tasks.tests.factories import ACTOR, create_tasks
from shared.contracts.events import TaskEvent
from shared.messaging.replay import UnknownQueueError, replay
from tests.broker import AMQP_URL, unique_name


def test_replays_every_event_in_order_to_that_queue_only(
    committed: Session, settings: TasksSettings
) -> None:
    [first, *_] = create_tasks(committed, 3)
    service.delete_task(committed, task_id=first, actor=ACTOR, expected_versions=None)
    history = list(committed.scalars(select(OutboxEvent.event_id).order_by(OutboxEvent.id)))
    target, bystander = unique_name("replay"), unique_name("other")

    async def scenario() -> tuple[list[uuid.UUID], int]:
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        queue = await channel.declare_queue(target)
        other = await channel.declare_queue(bystander)
        try:
            count = await replay(
                settings.model_copy(update={"amqp_url": AMQP_URL}), outbox=OUTBOX, queue=target
            )
            received = []
            while (message := await queue.get(fail=False)) is not None:
                await message.ack()
                received.append(TaskEvent.model_validate_json(message.body).event_id)
            others = await other.get(fail=False)
            assert count == len(history)
            return received, 0 if others is None else 1
        finally:
            await channel.queue_delete(target)
            await channel.queue_delete(bystander)
            await connection.close()

    received, seen_by_others = asyncio.run(scenario())

    assert received == history
    assert seen_by_others == 0


def test_replay_to_a_queue_that_does_not_exist_fails_clearly(settings: TasksSettings) -> None:
    with pytest.raises(UnknownQueueError, match="no queue"):
        asyncio.run(
            replay(
                settings.model_copy(update={"amqp_url": AMQP_URL}),
                outbox=OUTBOX,
                queue=unique_name("missing"),
            )
        )
