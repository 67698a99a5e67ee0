"""Deploy-time commands: the prestart declares the user directory's queue."""

import asyncio

import pytest

from services.tasks import consumer as tasks_consumer
from services.tasks import manage
from shared.contracts.events import USER_EVENTS
from tests.broker import broker, consumer_config, publish
from tests.events import create_user_event, event_body


def test_prestart_declares_the_user_events_queue_before_any_event(
    tasks_schema: None, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = consumer_config("tasks-users", binding_key=USER_EVENTS)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AMQP_URL", config.amqp_url)
    monkeypatch.setenv("USER_EVENTS_EXCHANGE", config.exchange)
    monkeypatch.setattr(tasks_consumer, "QUEUE", config.queue)

    manage.main(["prestart"])

    async def waiting_in_the_queue() -> int:
        async with broker(config) as channel:
            body = event_body(create_user_event())
            await publish(channel, config, body, routing_key="user.registered")
            await publish(channel, config, b"{}", routing_key="task.created")  # not bound
            queue = await channel.declare_queue(config.queue, passive=True)
            return queue.declaration_result.message_count or 0

    assert asyncio.run(waiting_in_the_queue()) == 1
