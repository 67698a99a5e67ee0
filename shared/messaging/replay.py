"""Replay's command lines: the producer re-publishes its history; the consumer rebuilds from it.

    python -m services.tasks.manage replay --queue kpi.task-events.replay
    python -m services.auth.manage replay --queue kpi.user-events.replay
    python -m services.kpi.manage replay-start | replay-finish | replay-abort

A producer's `replay` sends every outbox row, published or not, in order of creation, through
the default exchange straight to that queue only: other consumers see nothing. The consumer's
side (`replay-start`, `replay-finish`, `replay-abort`) builds a new generation of its read model
from what arrives there: see `shared/messaging/rebuild.py`.
"""

import argparse
import asyncio
from typing import Any

import aio_pika
import structlog
from aio_pika.exceptions import ChannelNotFoundEntity

from shared.core.db import Database
from shared.core.settings import ServiceSettings
from shared.messaging import rebuild
from shared.messaging.outbox import Outbox, events_after
from shared.messaging.relay import outbox_message

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


def add_rebuild_commands(commands: Any) -> None:
    """The consumer side's `replay-start`, `replay-finish` and `replay-abort` subcommands."""
    commands.add_parser(
        "replay-start", help="check, then prepare a new generation of the read model"
    )
    finish = commands.add_parser(
        "replay-finish", help="build the new generation from the replayed events, switch to it"
    )
    finish.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds to catch up before giving up"
    )
    commands.add_parser("replay-abort", help="drop an unfinished replay; the live model stays")


def run_rebuild_command(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    settings: ServiceSettings,
    model: rebuild.ReadModel,
) -> bool:
    """Run `args.command` if it is one of `add_rebuild_commands`' (exit 1 when it fails)."""
    if args.command == "replay-start":
        step = rebuild.start(settings, model)
    elif args.command == "replay-finish":
        step = rebuild.finish(settings, model, give_up_after=args.timeout)
    elif args.command == "replay-abort":
        step = rebuild.abort(settings, model)
    else:
        return False
    try:
        print(asyncio.run(step))
    except rebuild.ReplayError as exc:
        parser.exit(1, f"error: {exc}\n")
    return True
