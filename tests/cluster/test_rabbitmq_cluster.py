"""A broker node lost while task writes flow loses no event and applies none twice.

A three-node RabbitMQ cluster (`conftest.py`), the consumers' quorum queues led by all three
nodes. The tasks relay, the KPI and tasks consumers and the logs consumer run as their
processes run them, on the test database, reaching the broker through one address: a TCP front
that forwards each new connection to the first node of the three that accepts it, as a
Kubernetes Service sends a reconnect to a live pod. While tasks are written, one node is
SIGKILLed; writes go on and must be applied while it is down; then it is restarted.
"""

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from conftest import emptied
from scripts.servers import answers
from services.kpi.models import processed_event as kpi_processed
from services.logs.models import ActivityLog
from services.tasks.models import OutboxEvent
from services.tasks.relay import relay_config as tasks_relay
from shared.core.db import Database
from shared.messaging.relay import OutboxRelay
from tests import rabbitmq_node
from tests.broker import Runner, channel_to, dead_letter_count, eventually, running
from tests.integration.conftest import TRUNCATE, System, migrate, system
from tests.integration.test_replay import counters, keep_going, recount, write
from tests.proxy import TcpProxy
from tests.rabbitmq_node import RabbitNode, ctl

DEADLINE = 180.0  # nodes take long to notice, elect and boot on a loaded machine
TASKS = 20


def event_ids(engine: Engine, column: Any) -> list[uuid.UUID]:
    """Every value of `column`, duplicates kept."""
    with engine.connect() as connection:
        return list(connection.scalars(select(column)))


def applied_everywhere(engine: Engine, event_id: uuid.UUID) -> bool:
    """Whether the KPI consumer and the logs consumer both applied the event."""
    return event_id in event_ids(engine, kpi_processed.c.event_id) and event_id in event_ids(
        engine, ActivityLog.event_id
    )


def newest_event(engine: Engine) -> uuid.UUID:
    with engine.connect() as connection:
        newest = select(OutboxEvent.event_id).order_by(OutboxEvent.id.desc()).limit(1)
        found: uuid.UUID = connection.execute(newest).scalar_one()
        return found


def all_applied(engine: Engine) -> bool:
    """Every outbox event published, and applied by the KPI and the logs consumer."""
    with engine.connect() as connection:
        unpublished = select(func.count()).where(OutboxEvent.published_at.is_(None))
        if connection.scalar(unpublished):
            return False
    events = set(event_ids(engine, OutboxEvent.event_id))
    return (
        events
        == set(event_ids(engine, kpi_processed.c.event_id))
        == set(event_ids(engine, ActivityLog.event_id))
    )


def queue_leaders(node: RabbitNode, queues: set[str]) -> dict[str, tuple[str, int]]:
    """Each of `queues`: its leader's node and how many members it has, as the cluster says."""
    listed = ctl(node, "list_queues", "name", "leader", "members", "--no-table-headers", "-q")
    found: dict[str, tuple[str, int]] = {}
    for line in listed.splitlines():
        name, leader, members = line.split("\t")
        if name in queues:
            found[name] = (leader, members.count("@"))
    return found


def consumer_queues(world: System) -> set[str]:
    subscriptions = world.tasks_subscriptions + world.kpi_subscriptions + world.logs_subscriptions
    return {
        name for s in subscriptions for name in (s.queue, f"{s.queue}.retry", f"{s.queue}.dead")
    }


async def dead_letters(world: System) -> int:
    """How many messages wait in the consumers' dead-letter queues."""
    subscriptions = [
        *((world.tasks, s) for s in world.tasks_subscriptions),
        *((world.kpi, s) for s in world.kpi_subscriptions),
        *((world.logs, s) for s in world.logs_subscriptions),
    ]
    total = 0
    async with channel_to(world.tasks.amqp_url, exchange=world.tasks.events_exchange) as channel:
        for settings, subscription in subscriptions:
            total += await dead_letter_count(channel, subscription.config(settings)) or 0
    return total


async def lose_a_node(engine: Engine, node: RabbitNode, writes: list[None]) -> None:
    """SIGKILL the node among writes; once an event written after that is applied while the
    node is still down (the clients went on through the others), restart it."""
    await asyncio.sleep(1.0)  # the kill lands among writes and deliveries
    pid = await asyncio.to_thread(rabbitmq_node.os_pid, node)
    rabbitmq_node.kill(pid)
    written_at_kill = len(writes)
    await eventually(lambda: len(writes) > written_at_kill + 20, within=DEADLINE)
    later = await asyncio.to_thread(newest_event, engine)
    await eventually(lambda: applied_everywhere(engine, later), within=DEADLINE)
    assert not answers("127.0.0.1", node.amqp_port)
    await asyncio.to_thread(rabbitmq_node.start, node)
    await asyncio.sleep(2.0)  # writes go on after the node is back


@pytest.mark.parametrize("victim", ["another node", "the clients' node"])
def test_a_node_killed_while_tasks_are_written_loses_no_event_and_applies_none_twice(
    rabbit_cluster: list[RabbitNode], database_url: str, engine: Engine, victim: str
) -> None:
    first, second, _ = rabbit_cluster
    # The front sends every connection to the first node while it lives.
    killed = first if victim == "the clients' node" else second
    migrate(database_url)
    writes: list[None] = []

    async def scenario() -> None:
        others = [("127.0.0.1", node.amqp_port) for node in rabbit_cluster[1:]]
        front = TcpProxy("127.0.0.1", first.amqp_port, *others)
        await front.start()
        world = system(database_url, amqp_url=f"amqp://guest:guest@127.0.0.1:{front.port}/")
        database = Database(world.kpi.database_url, pool_size=4)
        runners: list[Runner] = [
            OutboxRelay(tasks_relay(world.tasks)),
            *world.consumers(database),
            *world.logs_consumers(database),
        ]
        async with world.broker(), running(*runners):
            leaders = queue_leaders(first, consumer_queues(world))
            assert {leader for leader, _ in leaders.values()} == {n.name for n in rabbit_cluster}
            assert {members for _, members in leaders.values()} == {3}  # on every node
            for n in range(TASKS):
                await asyncio.to_thread(write, engine, 3 * n)
            await eventually(lambda: all_applied(engine), within=DEADLINE)

            stop = asyncio.Event()
            writer = asyncio.create_task(keep_going(lambda n: write(engine, n), stop, writes))
            try:
                await lose_a_node(engine, killed, writes)
            finally:
                stop.set()
                await writer
            await eventually(lambda: all_applied(engine), within=DEADLINE)
            assert await dead_letters(world) == 0
        database.dispose()
        await front.cut()

    with emptied(engine, TRUNCATE):
        asyncio.run(scenario())
        outbox = event_ids(engine, OutboxEvent.event_id)
        assert len(writes) > 20  # writes went on throughout
        # 0 lost, 0 applied twice: each consumer has each event once, the counters add up.
        assert sorted(event_ids(engine, ActivityLog.event_id)) == sorted(outbox)
        assert sorted(event_ids(engine, kpi_processed.c.event_id)) == sorted(outbox)
        assert counters(engine) == recount(engine)
