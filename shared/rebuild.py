"""Replay into a new generation: rebuild a consumer's read model beside the live one, then switch.

    python -m services.kpi.manage replay-start    # check; the shadow tables; bind replay queues
    python -m services.tasks.manage replay --queue kpi.task-events.replay     # the history
    python -m services.auth.manage replay --queue kpi.user-events.replay
    python -m services.kpi.manage replay-finish   # apply, catch up, switch, drain, clean up
    python -m services.kpi.manage replay-abort    # drop an unfinished replay; the live one stays

`replay-start` checks RabbitMQ and the consumer's queues, and PostgreSQL, before it changes
anything. It then creates the read model's tables (the models' metadata, schema-translated) in
the shadow schema `<schema>_replay`, and binds a replay queue `<queue>.replay` to the events
exchange beside each consumer queue: from then on every new event reaches both. The producer
publishes its whole outbox into the replay queue after that binding, so every event is in it at
least once: either it was published before the binding (then it is in the outbox history) or
after it (then the exchange routed a copy). `replay-finish` runs the service's own consumers on
the replay queues, writing into the shadow (SQLAlchemy's `schema_translate_map`), with the same
claims by `event_id` and version guards. Meanwhile the live consumer keeps applying to the live
tables, which the API keeps answering from. Once the replay queues' backlog is small
(`SWITCH_BACKLOG`), it stops those consumers and switches (`shared/generations.py`) in one
transaction: it locks the live tables, so the live consumer and the readers wait; applies to
the shadow what the replay queues hold by then, which includes every event the live consumer
has applied (the exchange routed each to both queues at once); then drops each live table and
moves its shadow twin in. So the new generation never lacks what the old one showed, and the
live consumer's next transaction writes to it. Then the replay queues are unbound, drained into
the new live tables (claims drop what the live consumer applied too) and deleted. Any failure
before the switch drops the shadow and the replay queues: the old generation serves on.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aio_pika.exceptions import AMQPError
from sqlalchemy import Engine, Table, create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from shared import generations
from shared.consumer import EventConsumer, declare_consumer_queues, parse_event
from shared.db import CONNECT_ARGS, Database
from shared.messaging import ready_count
from shared.readmodel import shadow_schema
from shared.settings import ServiceSettings
from shared.subscriptions import Subscription

logger = structlog.get_logger(__name__)
POLL_SECONDS = 0.2
SWITCH_BACKLOG = 100  # messages per replay queue, at most, to apply while the live tables wait
SWITCH_ATTEMPTS = 3


class ReplayError(Exception):
    """A replay cannot go on; the message says what is serving and what to do."""


@dataclass(frozen=True)
class ReadModel:
    """What a replay rebuilds: a consumer's tables in `schema` and the queues that fill them."""

    schema: str
    tables: Sequence[Table]  # every table the consumers write, `processed` among them
    processed: Table
    subscriptions: Sequence[Subscription[Any]]

    @property
    def shadow(self) -> str:
        return shadow_schema(self.schema)

    @property
    def lock_order(self) -> list[Table]:
        """The claims table first, as the consumers lock it first."""
        return sorted(self.tables, key=lambda table: table is not self.processed)

    def replay_subscriptions(self) -> list[Subscription[Any]]:
        """The same consumers, each on its replay queue."""
        return [replace(s, queue=replay_queue(s.queue)) for s in self.subscriptions]


def replay_queue(queue: str) -> str:
    """The temporary queue a replay of `queue`'s consumer fills (history and new events)."""
    return f"{queue}.replay"


async def start(settings: ServiceSettings, model: ReadModel) -> str:
    """Check the broker, the consumer queues and the database; then create the shadow tables and
    bind the replay queues (an unfinished replay's are discarded first). What to do next."""
    connection = await _connect(settings)
    engine = _engine(settings)
    try:
        queues = [s.queue for s in model.subscriptions]
        await _require_queues(connection, queues, "start its consumer once")
        _check_database(engine)
        try:
            await _delete_replay_queues(settings, connection, model, keep_dead=False)
            generations.create_shadow(
                engine, tables=model.tables, schema=model.schema, shadow=model.shadow
            )
            channel = await connection.channel()
            for subscription in model.replay_subscriptions():
                await declare_consumer_queues(channel, subscription.config(settings))
        except BaseException:
            await _discard(settings, engine, model)
            raise
    finally:
        await connection.close()
        engine.dispose()
    targets = ", ".join(s.queue for s in model.replay_subscriptions())
    return f"{model.shadow} is ready: publish the event history to {targets}, then finish"


async def finish(settings: ServiceSettings, model: ReadModel, *, give_up_after: float) -> str:
    """Build the shadow from the replay queues, switch generations, drain the rest into the live
    tables, delete the replay queues. Run again after a failure past the switch, it drains."""
    deadline = time.monotonic() + give_up_after
    connection = await _connect(settings)
    engine = _engine(settings)
    try:
        queues = [s.queue for s in model.replay_subscriptions()]
        await _require_queues(connection, queues, "no replay is in progress (start one first)")
        _check_database(engine)
        if generations.shadow_exists(engine, shadow=model.shadow):
            await _build_and_switch(settings, connection, engine, model, deadline)
        try:
            kept = await _drain_into_live(settings, connection, model, deadline)
        except Exception as exc:
            raise ReplayError(
                f"the rebuilt {model.schema} read model is serving, but events may wait in the"
                f" replay queues ({exc}): run replay-finish again to apply them"
            ) from exc
    finally:
        await connection.close()
        engine.dispose()
    note = f"; dead letters kept in {', '.join(kept)}" if kept else ""
    return f"the rebuilt {model.schema} read model is serving{note}"


async def abort(settings: ServiceSettings, model: ReadModel) -> str:
    """Drop an unfinished replay (its shadow tables and queues); the live read model stays."""
    engine = _engine(settings)
    try:
        _check_database(engine)
        if not generations.shadow_exists(engine, shadow=model.shadow):
            await _refuse_after_switch(settings, model)
        await _discard(settings, engine, model)
    finally:
        engine.dispose()
    return f"no replay of {model.schema} is left; the live read model is unchanged"


async def _refuse_after_switch(settings: ServiceSettings, model: ReadModel) -> None:
    """Past the switch the replay queues may hold events the new generation lacks: keep them."""
    connection = await _connect(settings)
    try:
        for subscription in model.replay_subscriptions():
            if await ready_count(connection, subscription.queue) is not None:
                raise ReplayError(
                    f"the rebuilt {model.schema} read model is already serving: run"
                    " replay-finish to apply what is left in the replay queues"
                )
    finally:
        await connection.close()


async def _discard(settings: ServiceSettings, engine: Engine, model: ReadModel) -> None:
    """Drop the shadow tables, then delete the replay queues."""
    with engine.begin() as database:
        generations.drop_shadow(database, shadow=model.shadow)
    try:
        broker = await _connect(settings)
    except ReplayError as exc:
        raise ReplayError(f"the replay queues are left ({exc}): run replay-abort again") from exc
    try:
        await _delete_replay_queues(settings, broker, model, keep_dead=True)
    finally:
        await broker.close()


async def _build_and_switch(
    settings: ServiceSettings,
    connection: AbstractConnection,
    engine: Engine,
    model: ReadModel,
    deadline: float,
) -> None:
    shadow = Database(
        settings.database_url,
        pool_size=len(model.subscriptions) + 1,
        schema_translate_map={model.schema: model.shadow},
    )
    try:
        await _apply_until(settings, connection, model, shadow, deadline, SWITCH_BACKLOG)
        await _switch(settings, connection, engine, model, shadow)
    except BaseException as exc:
        logger.error("replay_failed", schema=model.schema, error=repr(exc))
        await _discard(settings, engine, model)
        raise
    finally:
        shadow.dispose()
    logger.info("replay_switched", schema=model.schema)


async def _switch(
    settings: ServiceSettings,
    connection: AbstractConnection,
    engine: Engine,
    model: ReadModel,
    shadow: Database,
) -> None:
    """Lock the live tables, apply the replay queues' backlog to the shadow, move it in."""
    consumers = [
        s.consumer(settings, database=shadow, processed=model.processed)
        for s in model.replay_subscriptions()
    ]
    for attempt in range(1, SWITCH_ATTEMPTS + 1):
        live = await asyncio.to_thread(engine.connect)
        try:
            await asyncio.to_thread(generations.lock_live, live, tables=model.lock_order)
            for consumer in consumers:
                await _apply_backlog(connection, consumer)
            await asyncio.to_thread(
                generations.move_generations, live, tables=model.lock_order, shadow=model.shadow
            )
            return
        except OperationalError as exc:  # a lock not granted in time, or a deadlock
            if attempt == SWITCH_ATTEMPTS:
                raise ReplayError(f"the switch did not get its locks ({exc.orig!r})") from exc
            logger.warning("replay_switch_retry", error=repr(exc.orig))
        finally:
            await asyncio.to_thread(live.close)


async def _apply_backlog(connection: AbstractConnection, consumer: EventConsumer[Any]) -> None:
    """Apply what waits in the consumer's queue now, a batch per transaction, acked after it."""
    channel = await connection.channel()
    try:
        queue = await channel.declare_queue(consumer.config.queue, passive=True)
        remaining = queue.declaration_result.message_count or 0
        while remaining > 0:
            batch: list[AbstractIncomingMessage] = []
            while len(batch) < min(remaining, consumer.config.batch_size):
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                batch.append(message)
            if not batch:
                return
            events = [parse_event(message.body, consumer.model) for message in batch]
            await asyncio.to_thread(consumer.process_batch, events)
            for message in batch:
                await message.ack()
            remaining -= len(batch)
    finally:
        await channel.close()  # what was taken and not acked goes back to the queue


async def _drain_into_live(
    settings: ServiceSettings, connection: AbstractConnection, model: ReadModel, deadline: float
) -> list[str]:
    """Unbind the replay queues, apply what they still hold to the live tables, delete them."""
    live = Database(settings.database_url, pool_size=len(model.subscriptions) + 1)
    try:
        await _apply_until(settings, connection, model, live, deadline, 0, unbind=True)
    finally:
        live.dispose()
    return await _delete_replay_queues(settings, connection, model, keep_dead=True)


async def _unbind(connection: AbstractConnection, model: ReadModel) -> None:
    """No new event reaches the replay queues (a consumer binds its queue again when it starts
    or reconnects: so this runs at every poll of the drain)."""
    channel = await connection.channel()
    for subscription in model.replay_subscriptions():
        queue = await channel.declare_queue(subscription.queue, passive=True)
        await queue.unbind(subscription.exchange, routing_key=subscription.binding_key)
    await channel.close()


async def _apply_until(
    settings: ServiceSettings,
    connection: AbstractConnection,
    model: ReadModel,
    database: Database,
    deadline: float,
    backlog: int,
    *,
    unbind: bool = False,
) -> None:
    """Run the consumers of the replay queues on `database` until, twice in a row, at most
    `backlog` messages wait in each (none: and the consumers are idle), none in retry."""
    consumers = [
        s.consumer(settings, database=database, processed=model.processed)
        for s in model.replay_subscriptions()
    ]
    stop = asyncio.Event()
    running = [asyncio.create_task(consumer.run(stop)) for consumer in consumers]
    try:
        calm = 0
        while calm < 2:
            await asyncio.sleep(POLL_SECONDS)
            if unbind:
                await _unbind(connection, model)
            calm = calm + 1 if await _caught_up(connection, consumers, backlog) else 0
            if time.monotonic() > deadline:
                raise ReplayError("the replay did not catch up before its timeout")
            for task in running:
                if task.done():
                    task.result()
                    raise ReplayError("a replay consumer stopped")
    finally:
        stop.set()
        await asyncio.gather(*running, return_exceptions=True)


async def _caught_up(
    connection: AbstractConnection, consumers: Sequence[EventConsumer[Any]], backlog: int
) -> bool:
    for consumer in consumers:
        config = consumer.config
        ready, retrying, dead = [
            await ready_count(connection, name)
            for name in (config.queue, config.retry_queue, config.dead_queue)
        ]
        if ready is None or retrying is None or dead is None:
            raise ReplayError(f"the replay queues of {config.queue!r} are gone")
        if dead:
            raise ReplayError(
                f"{dead} replayed events went to the dead letters ({config.dead_queue})"
            )
        if ready > backlog or retrying or (backlog == 0 and not consumer.idle):
            return False
    return True


def _engine(settings: ServiceSettings) -> Engine:
    return create_engine(settings.database_url, poolclass=NullPool, connect_args=CONNECT_ARGS)


def _check_database(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise ReplayError(
            f"PostgreSQL is not reachable ({exc.orig!r}); nothing was changed"
        ) from exc


async def _connect(settings: ServiceSettings) -> AbstractConnection:
    try:
        return await aio_pika.connect(settings.amqp_url, timeout=10)
    except (OSError, AMQPError, TimeoutError) as exc:
        raise ReplayError(f"RabbitMQ is not reachable ({exc!r}); nothing was changed") from exc


async def _require_queues(connection: AbstractConnection, queues: Sequence[str], why: str) -> None:
    for queue in queues:
        if await ready_count(connection, queue) is None:
            raise ReplayError(f"there is no queue {queue!r}: {why}; nothing was changed")


async def _delete_replay_queues(
    settings: ServiceSettings, connection: AbstractConnection, model: ReadModel, *, keep_dead: bool
) -> list[str]:
    """Delete the replay queues; with `keep_dead`, a dead-letter queue that holds messages stays
    (for a look): the names of those kept."""
    kept = []
    channel = await connection.channel()
    for subscription in model.replay_subscriptions():
        config = subscription.config(settings)
        await channel.queue_delete(config.queue)
        await channel.queue_delete(config.retry_queue)
        if keep_dead and await ready_count(connection, config.dead_queue):
            kept.append(config.dead_queue)
        else:
            await channel.queue_delete(config.dead_queue)
    await channel.close()
    return kept
