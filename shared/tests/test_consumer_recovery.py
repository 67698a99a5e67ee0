"""A consumer that loses its subscription, or is killed mid-batch, on the real broker."""

import asyncio
import dataclasses
import json
import sys
from asyncio.subprocess import DEVNULL
from pathlib import Path

import pytest
from aio_pika.abc import AbstractChannel
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from shared.contracts.events import TaskEvent
from shared.core.db import Database
from shared.messaging import heartbeat
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig, declare_consumer_queues
from shared.tests.test_consumer import applied_task_ids, consumer_of, created_body, processed
from tests.broker import broker, consuming, dead_letter_count, eventually, publish

ROOT = Path(__file__).parents[2]


def processed_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(processed)) or 0


def finished(queue: str) -> float:
    """Messages the consumer acked, applied or found applied before (its metric, counted after
    the acks): a restarted consumer's duplicates leave the database as it was."""
    return sum(
        REGISTRY.get_sample_value(
            "efficient_consumer_events_total", {"queue": queue, "outcome": outcome}
        )
        or 0
        for outcome in ("applied", "duplicate")
    )


async def waiting(channel: AbstractChannel, queue: str) -> int:
    """Messages ready in the queue (none unacked: no consumer is running)."""
    declared = await channel.declare_queue(queue, passive=True)
    return declared.declaration_result.message_count or 0


async def becomes(
    consumer: EventConsumer[TaskEvent], consuming_: bool, within: float = 15.0
) -> None:
    """Poll `consumer.is_consuming()` until it is `consuming_`."""
    deadline = asyncio.get_running_loop().time() + within
    while await consumer.is_consuming() is not consuming_:
        assert asyncio.get_running_loop().time() < deadline, f"consuming never {consuming_}"
        await asyncio.sleep(0.05)


def test_a_consumer_subscribes_again_when_its_queue_is_deleted(
    database: Database, engine: Engine, config: ConsumerConfig
) -> None:
    consumer = consumer_of(config, database)

    async def scenario() -> None:
        async with broker(config) as channel, consuming(consumer):
            await publish(channel, config, created_body(task_id=1))
            await eventually(lambda: applied_task_ids(engine) == [1])
            assert await consumer.is_consuming()
            await channel.queue_delete(config.queue)  # the broker cancels the subscription
            await becomes(consumer, False)
            await becomes(consumer, True)  # it declared its queue again and subscribed
            await declare_consumer_queues(channel, config)  # the next prestart changes nothing
            await publish(channel, config, created_body(task_id=2))
            await eventually(lambda: applied_task_ids(engine) == [1, 2])

    asyncio.run(scenario())


def test_the_heartbeat_stops_while_the_consumer_cannot_subscribe(
    database: Database, engine: Engine, config: ConsumerConfig, tmp_path: Path
) -> None:
    quick = dataclasses.replace(config, resubscribe_seconds=0.1)
    consumer = consumer_of(quick, database)
    file = tmp_path / "heartbeat"

    def fresh() -> bool:
        return heartbeat.is_fresh(file, 0.5)

    async def scenario() -> None:
        stop = asyncio.Event()
        async with broker(config) as channel, consuming(consumer):
            beating = asyncio.create_task(
                heartbeat.beat(file, stop, interval=0.05, alive=consumer.is_consuming)
            )
            await eventually(fresh)
            await channel.queue_delete(config.queue)
            # A queue of that name but of another type: the consumer cannot subscribe to it.
            await channel.declare_queue(config.queue, durable=True)
            await eventually(lambda: not fresh())
            await becomes(consumer, False)
            await channel.queue_delete(config.queue)  # the consumer declares its own again
            await eventually(fresh)
            await publish(channel, config, created_body(task_id=3))
            await eventually(lambda: applied_task_ids(engine) == [3])
            stop.set()
            await beating

    asyncio.run(scenario())


@pytest.mark.parametrize("mode", ["before-commit", "after-commit"])
def test_a_consumer_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    database: Database,
    engine: Engine,
    config: ConsumerConfig,
    database_url: str,
    tmp_path: Path,
    mode: str,
) -> None:
    marker = tmp_path / "stopped"
    command = [
        sys.executable,
        "-m",
        "shared.tests.killable_consumer",
        database_url,
        json.dumps(dataclasses.asdict(config)),
        mode,
        str(marker),
    ]
    consumer = consumer_of(config, database)
    everything = list(range(1, 11))

    async def scenario() -> None:
        async with broker(config) as channel:
            await declare_consumer_queues(channel, config)
            for task_id in everything:  # all waiting before the consumer starts: one batch
                await publish(channel, config, created_body(task_id=task_id))
            process = await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, stdout=DEVNULL, stderr=DEVNULL
            )
            try:
                await eventually(marker.exists, within=30)
                committed = applied_task_ids(engine)
            finally:
                process.kill()  # SIGKILL: no ack, no rollback, no goodbye
                await process.wait()
            assert committed == ([] if mode == "before-commit" else everything)
            async with consuming(consumer):  # the consumer restarted
                await eventually(lambda: applied_task_ids(engine) == everything)
                await eventually(lambda: processed_count(engine) == len(everything))
                # After a kill after the commit the rows are all there at once: wait for the
                # redelivered messages to be taken and acked as duplicates.
                await eventually(lambda: finished(config.queue) == len(everything))
            assert await waiting(channel, config.queue) == 0  # every message acked
            assert await dead_letter_count(channel, config) == 0  # none failed as a duplicate

    asyncio.run(scenario())

    assert applied_task_ids(engine) == everything
