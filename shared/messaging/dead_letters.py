"""A consumer's dead letters (`<queue>.dead`, see `shared/messaging/consumer.py`): list, redrive,
purge.

Every command takes the dead letters it works on from the queue unacknowledged (`basic.get`),
at most the number the queue held when it started (so a message that fails again after a
redrive is not taken twice) and at most `limit`. It acks only what it has finished with: a
redriven message once its copy is confirmed in the consumer's queue, a purged one once the
operator said so. Everything else is handed back with `basic.nack(requeue=True)`, which puts a
message back at its place in the queue (and, unlike a reject, does not count as a failed
delivery on a quorum queue); if the command dies, the broker hands them back all the same.

Two commands at once never see the same message: a message one of them holds is invisible to
the other until it is handed back. A redrive that dies between the confirm and the ack leaves
the message both in the consumer's queue and among the dead letters; redriven again, it is
dropped by the consumer as a duplicate (by `event_id`), so it is still applied once.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity, DeliveryError

from shared.messaging.broker import copy_of
from shared.messaging.consumer import ATTEMPT_HEADER, ERROR_HEADER
from shared.messaging.queues import DELIVERY_LIMIT, ConsumerConfig

DEFAULT_LIMIT = 1000
# Headers of failed deliveries: a redriven message starts again with none of them.
_FAILURE_HEADERS = (ATTEMPT_HEADER, ERROR_HEADER)
_BROKER_FAILURE_PREFIXES = ("x-death", "x-first-death-", "x-last-death-", "x-delivery-count")


class DeadLetterError(Exception):
    """A dead-letter command could not do what it was asked; no dead letter is lost."""


class MissingQueueError(DeadLetterError):
    """A queue the command needs does not exist (its consumer never ran)."""


class NotRedrivenError(DeadLetterError):
    """The consumer's queue did not take a redriven copy; it stays a dead letter."""


DELIVERY_LIMIT_ERROR = (
    f"delivered more than {DELIVERY_LIMIT} times without an outcome (the consumer process "
    "died holding it): dead-lettered by RabbitMQ's delivery limit"
)


@dataclass(frozen=True)
class DeadLetter:
    """What an operator needs to know about one dead letter."""

    message_id: str | None
    event_type: str | None
    attempts: int | None  # how many times the consumer tried it
    error: str | None  # the last one's error

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> "DeadLetter":
        """The dead letter `message` (its event type read from the body if the message lacks it)."""
        # The consumer stores the number of the attempt that would come next.
        next_attempt = message.headers.get(ATTEMPT_HEADER)
        error = message.headers.get(ERROR_HEADER)
        if error is None and message.headers.get("x-first-death-reason") == "delivery_limit":
            error = DELIVERY_LIMIT_ERROR  # dead-lettered by RabbitMQ, not by the consumer
        return cls(
            message_id=message.message_id,
            event_type=message.type or _event_type(message.body),
            attempts=next_attempt - 1 if isinstance(next_attempt, int) else None,
            error=error if isinstance(error, str) else None,
        )


def _event_type(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    kind = document.get("event_type") if isinstance(document, dict) else None
    return kind if isinstance(kind, str) else None


@dataclass(frozen=True)
class _Held:
    channel: AbstractChannel
    messages: list[AbstractIncomingMessage]

    def selected(self, ids: Collection[str] | None) -> list[AbstractIncomingMessage]:
        """The held messages with one of `ids`; all of them when `ids` is None."""
        if ids is None:
            return list(self.messages)
        return [message for message in self.messages if message.message_id in ids]


async def _existing(channel: AbstractChannel, name: str) -> AbstractQueue:
    """The queue `name`; `MissingQueueError` if there is none (it is never created here)."""
    try:
        return await channel.declare_queue(name, passive=True)
    except ChannelNotFoundEntity as exc:
        raise MissingQueueError(f"there is no queue {name!r}: start its consumer once") from exc


@asynccontextmanager
async def _holding(
    config: ConsumerConfig, *, limit: int, also_needs: Sequence[str] = ()
) -> AsyncIterator[_Held]:
    """The dead letters waiting now (at most `limit`), held; the ones not acked go back.

    The queues `also_needs` must exist too; they are checked before anything is taken.
    """
    connection = await aio_pika.connect(config.amqp_url)
    try:
        # Confirms, and a copy no queue takes raises instead of passing for delivered.
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        for name in also_needs:
            await _existing(channel, name)
        queue = await _existing(channel, config.dead_queue)
        waiting = queue.declaration_result.message_count or 0
        held = _Held(channel, [])
        try:
            while len(held.messages) < min(waiting, limit):
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                held.messages.append(message)
            yield held
        finally:
            for message in held.messages:
                if not message.processed and not channel.is_closed:
                    await message.nack(requeue=True)
    finally:
        await connection.close()


async def list_dead_letters(
    config: ConsumerConfig, *, limit: int = DEFAULT_LIMIT
) -> list[DeadLetter]:
    """The consumer's dead letters, oldest first; all of them stay where they are."""
    async with _holding(config, limit=limit) as held:
        return [DeadLetter.of(message) for message in held.messages]


async def waiting(config: ConsumerConfig) -> int:
    """How many dead letters wait (not counting those another command holds right now)."""
    connection = await aio_pika.connect(config.amqp_url)
    try:
        queue = await _existing(await connection.channel(), config.dead_queue)
        return queue.declaration_result.message_count or 0
    finally:
        await connection.close()


async def redrive(
    config: ConsumerConfig, *, ids: Collection[str] | None = None, limit: int = DEFAULT_LIMIT
) -> list[DeadLetter]:
    """Send dead letters (those with `ids`, or all) back to the consumer's queue; the sent ones."""
    async with _holding(config, limit=limit, also_needs=[config.queue]) as held:
        sent: list[DeadLetter] = []
        for message in held.selected(ids):
            try:
                await held.channel.default_exchange.publish(
                    _fresh(message), routing_key=config.queue
                )
            except DeliveryError as exc:  # returned or nacked: it stays where it is
                raise NotRedrivenError(
                    f"{config.queue} did not take {message.message_id} ({exc!r}); {len(sent)}"
                    " redriven before it, the rest are still dead letters"
                ) from exc
            await message.ack()  # only once the copy is confirmed in the queue
            sent.append(DeadLetter.of(message))
        return sent


async def purge(
    config: ConsumerConfig,
    *,
    confirm: Callable[[Sequence[DeadLetter]], bool],
    ids: Collection[str] | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[DeadLetter]:
    """Delete dead letters (those with `ids`, or all) if `confirm(them)` says so; the deleted."""
    async with _holding(config, limit=limit) as held:
        chosen = held.selected(ids)
        letters = [DeadLetter.of(message) for message in chosen]
        # `confirm` may wait on a person: in a thread, so the connection's heartbeats go on.
        if not chosen or not await asyncio.to_thread(confirm, letters):
            return []
        for message in chosen:
            await message.ack()
        return letters


def _fresh(message: AbstractIncomingMessage) -> aio_pika.Message:
    """A copy of the dead letter as its producer sent it: no attempts, no errors."""
    headers: dict[str, Any] = {
        name: value
        for name, value in message.headers.items()
        if name not in _FAILURE_HEADERS and not name.startswith(_BROKER_FAILURE_PREFIXES)
    }
    return copy_of(message, headers=headers)
