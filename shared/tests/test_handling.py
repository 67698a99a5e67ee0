"""A consumer's log lines name the request that caused each message, and only that one."""

import asyncio

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shared.contracts.events import TaskEvent
from shared.core.db import Database
from shared.messaging.queues import ConsumerConfig, declare_consumer_queues
from shared.tests.test_consumer import applied_task_ids, consumer_of, created_body, record
from tests.broker import broker, consuming, dead_letter, eventually, publish
from tests.json_logs import json_logs

logger = structlog.get_logger("handler")


def record_and_log(session: Session, event: TaskEvent) -> None:
    """Apply the event as the tests' consumers do, and log a line about it."""
    record(session, event)
    logger.info("recorded", task_id=event.task_id)


def test_each_line_names_the_request_of_its_message_and_no_other(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    consumer = consumer_of(config, database, record_and_log)

    async def scenario() -> None:
        async with broker(config) as channel:
            await declare_consumer_queues(channel, config)
            # Waiting before the consumer starts: delivered together, applied as one batch.
            await publish(channel, config, created_body(1), headers={"x-request-id": "req-a"})
            await publish(channel, config, created_body(2), headers={"x-request-id": "req-b"})
            await publish(channel, config, b"not json", headers={"x-request-id": "req-c"})
            async with consuming(consumer):
                await eventually(lambda: applied_task_ids(engine) == [1, 2])
                await dead_letter(channel, config)
                await publish(channel, config, created_body(3))  # caused by no request
                await eventually(lambda: applied_task_ids(engine) == [1, 2, 3])

    with json_logs() as logs:
        asyncio.run(scenario())

    recorded = {line["task_id"]: line for line in logs.lines("recorded")}
    for task_id, own, other in ((1, "req-a", "req-b"), (2, "req-b", "req-a")):
        line = recorded[task_id]
        # Alone in its batch: its request; in one batch with the other: both, and neither alone.
        assert line.get("request_id") == own or line.get("request_ids") == ["req-a", "req-b"]
        assert line.get("request_id") != other
    failures = logs.lines("event_failed")
    assert failures
    assert {line.get("request_id") for line in failures} == {"req-c"}
    assert "request_id" not in recorded[3]
    assert "request_ids" not in recorded[3]
