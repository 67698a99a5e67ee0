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
(`SWITCH_BACKLOG`), it stops those consumers and switches (`shared/messaging/generations.py`) in one
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import structlog
from aio_pika.abc import AbstractConnection
from sqlalchemy import Engine, Table, create_engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from shared.core.db import CONNECT_ARGS, Database
from shared.core.readmodel import shadow_schema
from shared.core.settings import ServiceSettings
from shared.messaging import generations, replay_queues
from shared.messaging.broker import ready_count
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig, declare_consumer_queues
from shared.messaging.replay_queues import ReplayError
from shared.messaging.subscriptions import Subscription

__all__ = ["ReadModel", "ReplayError", "abort", "finish", "replay_queue", "start"]
logger = structlog.get_logger(__name__)
SWITCH_BACKLOG = 100  # messages per replay queue, at most, to apply while the live tables wait
SWITCH_ATTEMPTS = 3


@dataclass(frozen=True)
class ReadModel:
    """What a replay rebuilds: a consumer's tables in `schema` and the queues that fill them."""

    schema: str
    tables: Sequence[Table]  # every table the consumers write, `processed` among them
    processed: Table
    subscriptions: Sequence[Subscription[Any]]

    @classmethod
    def whole_schema(
        cls, processed: Table, subscriptions: Sequence[Subscription[Any]]
    ) -> "ReadModel":
        """A read model that is every table of its schema (the metadata `processed` is in)."""
        assert processed.schema is not None
        tables = list(processed.metadata.sorted_tables)
        return cls(processed.schema, tables, processed, subscriptions)

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

    def replay_configs(self, settings: ServiceSettings) -> list[ConsumerConfig]:
        """The replay queues, as their consumers see them."""
        return [s.config(settings) for s in self.replay_subscriptions()]

    def replay_consumers(
        self, settings: ServiceSettings, database: Database
    ) -> list[EventConsumer[Any]]:
        """The service's consumers on the replay queues, writing to `database`."""
        return [
            s.consumer(settings, database=database, processed=self.processed)
            for s in self.replay_subscriptions()
        ]


def replay_queue(queue: str) -> str:
    """The temporary queue a replay of `queue`'s consumer fills (history and new events)."""
    return f"{queue}.replay"


async def start(settings: ServiceSettings, model: ReadModel) -> str:
    """Check the broker, the consumer queues and the database; then create the shadow tables and
    bind the replay queues (an unfinished replay's are discarded first). What to do next."""
    connection = await replay_queues.connect(settings.amqp_url)
    engine = _engine(settings)
    try:
        queues = [s.queue for s in model.subscriptions]
        await replay_queues.require_queues(connection, queues, "start its consumer once")
        with _one_at_a_time(engine, model):
            try:
                await replay_queues.delete_queues(
                    connection, model.replay_configs(settings), keep_dead=False
                )
                generations.create_shadow(
                    engine, tables=model.tables, schema=model.schema, shadow=model.shadow
                )
                channel = await connection.channel()
                for config in model.replay_configs(settings):
                    await declare_consumer_queues(channel, config)
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
    connection = await replay_queues.connect(settings.amqp_url)
    engine = _engine(settings)
    try:
        queues = [s.queue for s in model.replay_subscriptions()]
        await replay_queues.require_queues(
            connection, queues, "no replay is in progress (start one first)"
        )
        with _one_at_a_time(engine, model):
            if generations.shadow_exists(engine, shadow=model.shadow):
                await _build_and_switch(settings, connection, engine, model, deadline)
            try:
                kept = await _drain_into_live(settings, connection, model, deadline)
            except Exception as exc:
                raise ReplayError(
                    f"the rebuilt {model.schema} read model is serving, but events may wait in"
                    f" the replay queues ({exc}): run replay-finish again to apply them"
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
        with _one_at_a_time(engine, model):
            if not generations.shadow_exists(engine, shadow=model.shadow):
                await _refuse_after_switch(settings, model)
            await _discard(settings, engine, model)
    finally:
        engine.dispose()
    return f"no replay of {model.schema} is left; the live read model is unchanged"


async def _refuse_after_switch(settings: ServiceSettings, model: ReadModel) -> None:
    """Past the switch the replay queues may hold events the new generation lacks: keep them."""
    connection = await replay_queues.connect(settings.amqp_url)
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
        broker = await replay_queues.connect(settings.amqp_url)
    except ReplayError as exc:
        raise ReplayError(f"the replay queues are left ({exc}): run replay-abort again") from exc
    try:
        await replay_queues.delete_queues(broker, model.replay_configs(settings), keep_dead=True)
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
        await replay_queues.run_until_caught_up(
            connection,
            model.replay_consumers(settings, shadow),
            deadline=deadline,
            backlog=SWITCH_BACKLOG,
        )
        await _switch(settings, connection, engine, model, shadow)
    except BaseException as exc:
        logger.error("replay_failed", schema=model.schema, error=repr(exc))
        await _discard(settings, engine, model)
        if isinstance(exc, Exception):
            raise ReplayError(
                f"{exc}; the replay was dropped, the old {model.schema} read model serves on"
            ) from exc
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
    consumers = model.replay_consumers(settings, shadow)
    for attempt in range(1, SWITCH_ATTEMPTS + 1):
        live = await asyncio.to_thread(engine.connect)
        try:
            await asyncio.to_thread(generations.lock_live, live, tables=model.lock_order)
            for consumer in consumers:
                await replay_queues.apply_backlog(connection, consumer)
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


async def _drain_into_live(
    settings: ServiceSettings, connection: AbstractConnection, model: ReadModel, deadline: float
) -> list[str]:
    """Unbind the replay queues, apply what they still hold to the live tables, delete them."""
    live = Database(settings.database_url, pool_size=len(model.subscriptions) + 1)
    try:
        await replay_queues.run_until_caught_up(
            connection,
            model.replay_consumers(settings, live),
            deadline=deadline,
            backlog=0,
            unbind_queues=True,
        )
    finally:
        live.dispose()
    return await replay_queues.delete_queues(
        connection, model.replay_configs(settings), keep_dead=True
    )


def _engine(settings: ServiceSettings) -> Engine:
    return create_engine(settings.database_url, poolclass=NullPool, connect_args=CONNECT_ARGS)


@contextmanager
def _one_at_a_time(engine: Engine, model: ReadModel) -> Iterator[None]:
    """The database answers, and no other replay step of this read model runs meanwhile (a
    session advisory lock, released with its connection, also when the process dies)."""
    try:
        connection = engine.connect()
        held = generations.try_replay_lock(connection, schema=model.schema)
        connection.commit()  # the lock is the session's: no transaction stays open for it
    except DBAPIError as exc:
        raise ReplayError(
            f"PostgreSQL is not reachable ({exc.orig!r}); nothing was changed"
        ) from exc
    with connection:
        if not held:
            raise ReplayError(
                f"another replay step of {model.schema} is running; nothing was changed"
            )
        yield
