"""Deploy-time commands, and the migration that builds the schema."""

import asyncio

import pytest
from sqlalchemy.engine import Engine

from conftest import migration_drift
from services.hooks import consumer as hooks_consumer
from services.hooks import manage
from services.hooks.models import SCHEMA, Base
from tests.broker import broker, consumer_config, publish


def test_prestart_migrates_and_declares_the_queue_before_any_event(
    hooks_schema: None, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = consumer_config("hooks")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AMQP_URL", config.amqp_url)
    monkeypatch.setenv("EVENTS_EXCHANGE", config.exchange)
    monkeypatch.setattr(hooks_consumer, "QUEUE", config.queue)

    manage.main(["prestart"])

    async def bound_and_cleaned_up() -> int:
        async with broker(config) as channel:
            await publish(channel, config, b"{}")
            queue = await channel.declare_queue(config.queue, passive=True)
            return queue.declaration_result.message_count or 0

    assert asyncio.run(bound_and_cleaned_up()) == 1


def test_the_migrations_build_exactly_the_models(engine: Engine, hooks_schema: None) -> None:
    assert migration_drift(engine, schema=SCHEMA, metadata=Base.metadata) == []
