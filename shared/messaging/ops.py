"""The operations commands of a service's `manage`, wired once for every service.

    python -m services.kpi.manage dead-letters list     [--queue kpi.user-events] [--limit N]
    python -m services.kpi.manage dead-letters redrive  [--queue Q] [--id MESSAGE_ID ...]
    python -m services.kpi.manage dead-letters purge    [--queue Q] [--id MESSAGE_ID ...] [--yes]
    python -m services.kpi.manage prune-processed       [--retention-days N]
    python -m services.kpi.manage maintain
    python -m services.tasks.manage outbox-status

A consumer service (logs, kpi, tasks) gets the dead-letter and pruning commands for the queues
of its consumer module's `subscriptions`; a producer (tasks, auth) gets `outbox-status`. The
machinery is in `shared/messaging/dead_letters.py` and `shared/messaging/maintenance.py`.
Every service gets `contract`, the migrations `prestart` leaves for after a rollout
(docs/migrations.md), and `maintain` (`shared/core/retention.py`): its processed event ids, its
published outbox rows and its own `trims` past their retention (docs/retention.md).
"""

import argparse
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from aio_pika.exceptions import AMQPConnectionError
from sqlalchemy import Table
from sqlalchemy.exc import OperationalError

from shared.core.db import standalone_session
from shared.core.migrations import contract
from shared.core.retention import Trim, maintain
from shared.core.settings import RelaySettings, ServiceSettings
from shared.messaging import dead_letters
from shared.messaging.dead_letters import DeadLetter, DeadLetterError
from shared.messaging.maintenance import (
    RetentionTooShortError,
    outbox_status,
    outbox_trim,
    processed_trim,
    prune_processed,
    retention,
)
from shared.messaging.outbox import Outbox
from shared.messaging.queues import ConsumerConfig
from shared.messaging.subscriptions import Subscription

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


@dataclass(frozen=True)
class Operations(Generic[SettingsT]):
    """What one service's operations commands act on: its consumers' queues, its tables."""

    subscriptions: Callable[[SettingsT], Sequence[Subscription[Any]]] | None = None
    processed: Table | None = None  # the consumers' `processed_event`
    outbox: Outbox | None = None
    trims: Callable[[SettingsT], Sequence[Trim]] | None = None  # the service's own tables
    service_dir: Path | None = None  # the folder of its `migrations/`: `manage contract`

    def maintenance(self, settings: SettingsT) -> list[Trim]:
        """What `maintain` trims: the service's own tables, processed ids, published events."""
        trims = list(self.trims(settings)) if self.trims is not None else []
        if self.processed is not None:
            keep = retention(settings.processed_event_retention_days)
            trims.append(processed_trim(self.processed, keep=keep))
        # OUTBOX_RETENTION_DAYS 0 (the default): kept, as a replay re-sends the whole outbox.
        days = settings.outbox_retention_days if isinstance(settings, RelaySettings) else 0
        if self.outbox is not None and days:
            trims.append(outbox_trim(self.outbox, keep=timedelta(days=days)))
        return trims

    def add_commands(self, commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
        """Add this service's operations commands to `manage`'s subcommands."""
        if self.subscriptions is not None:
            _add_dead_letter_commands(commands)
        if self.processed is not None:
            prune = commands.add_parser(
                "prune-processed", help="forget the ids of events applied before the retention"
            )
            prune.add_argument(
                "--retention-days", type=int, help="default: PROCESSED_EVENT_RETENTION_DAYS"
            )
        if self.outbox is not None:
            commands.add_parser("outbox-status", help="unpublished events and the oldest one's age")
        commands.add_parser("maintain", help="delete the rows past their retention, in batches")
        if self.service_dir is not None:
            commands.add_parser(
                "contract", help="apply the contract migrations: once the release before is gone"
            )

    def run(
        self, parser: argparse.ArgumentParser, args: argparse.Namespace, settings: SettingsT
    ) -> bool:
        """Run `args.command` if it is an operations command; whether it was one."""
        try:
            if args.command == "dead-letters" and self.subscriptions is not None:
                configs = _chosen(parser, self.subscriptions(settings), args.queue, settings)
                asyncio.run(_DEAD_LETTER_ACTIONS[args.action](configs, args))
            elif args.command == "prune-processed" and self.processed is not None:
                _prune(settings, self.processed, args.retention_days)
            elif args.command == "outbox-status" and self.outbox is not None:
                _print_outbox_status(settings, self.outbox)
            elif args.command == "maintain":
                _maintain(settings, self.maintenance(settings))
            elif args.command == "contract" and self.service_dir is not None:
                contract(self.service_dir, settings.database_url)
            else:
                return False
        except (DeadLetterError, RetentionTooShortError) as exc:
            parser.exit(2, f"error: {exc}\n")
        except (OSError, AMQPConnectionError, OperationalError) as exc:
            parser.exit(1, f"error: RabbitMQ or PostgreSQL is not reachable: {exc}\n")
        return True


def _add_dead_letter_commands(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    dead = commands.add_parser(
        "dead-letters", help="list, redrive or purge the consumers' dead letters"
    )
    actions = dead.add_subparsers(dest="action", required=True)
    for action, text in (
        ("list", "each dead letter: message id, event type, attempts, last error"),
        ("redrive", "send dead letters (all, or --id) back to their consumer's queue"),
        ("purge", "delete dead letters (all, or --id), after asking (or --yes)"),
    ):
        command = actions.add_parser(action, help=text)
        command.add_argument("--queue", help="one consumer queue (default: each of the service's)")
        command.add_argument("--limit", type=_positive, default=dead_letters.DEFAULT_LIMIT)
        if action != "list":
            command.add_argument("--id", action="append", dest="ids", metavar="MESSAGE_ID")
        if action == "purge":
            command.add_argument("--yes", action="store_true", help="do not ask")


def _chosen(
    parser: argparse.ArgumentParser,
    subscriptions: Sequence[Subscription[Any]],
    queue: str | None,
    settings: ServiceSettings,
) -> list[ConsumerConfig]:
    configs = [subscription.config(settings) for subscription in subscriptions]
    if queue is None:
        return configs
    chosen = [config for config in configs if config.queue == queue]
    if not chosen:
        names = ", ".join(config.queue for config in configs)
        parser.error(f"--queue {queue!r} is not a queue of this service: {names}")
    return chosen


def _line(letter: DeadLetter) -> str:
    return (
        f"  {letter.message_id or '-'}  {letter.event_type or '-'}"
        f"  attempts={letter.attempts if letter.attempts is not None else '-'}"
        f"  {letter.error or '-'}"
    )


async def _list(configs: Sequence[ConsumerConfig], args: argparse.Namespace) -> None:
    for config in configs:
        letters = await dead_letters.list_dead_letters(config, limit=args.limit)
        more = await dead_letters.waiting(config) - len(letters)
        beyond = f" (and {more} more past --limit)" if len(letters) == args.limit and more else ""
        print(f"{config.dead_queue}: {len(letters)} dead letters{beyond}")
        for letter in letters:
            print(_line(letter))


async def _redrive(configs: Sequence[ConsumerConfig], args: argparse.Namespace) -> None:
    found: set[str | None] = set()
    for config in configs:
        sent = await dead_letters.redrive(config, ids=args.ids, limit=args.limit)
        found |= {letter.message_id for letter in sent}
        print(f"{config.dead_queue}: {len(sent)} redriven to {config.queue}")
    _fail_on_missing(args.ids, found)


async def _purge(configs: Sequence[ConsumerConfig], args: argparse.Namespace) -> None:
    found: set[str | None] = set()
    for config in configs:

        def confirm(letters: Sequence[DeadLetter], queue: str = config.dead_queue) -> bool:
            if args.yes:
                return True
            print("\n".join(_line(letter) for letter in letters))
            try:
                answer = input(f"Delete these {len(letters)} dead letters of {queue}? [y/N] ")
            except EOFError:
                return False
            return answer.strip().lower() in {"y", "yes"}

        purged = await dead_letters.purge(config, confirm=confirm, ids=args.ids, limit=args.limit)
        found |= {letter.message_id for letter in purged}
        print(f"{config.dead_queue}: {len(purged)} purged")
    _fail_on_missing(args.ids, found)


def _fail_on_missing(ids: Sequence[str] | None, found: set[str | None]) -> None:
    missing = sorted(set(ids or ()) - found)
    if missing:
        raise SystemExit(
            f"error: not done (no such dead letter, or not confirmed): {', '.join(missing)}"
        )


_DEAD_LETTER_ACTIONS = {"list": _list, "redrive": _redrive, "purge": _purge}


def _prune(settings: ServiceSettings, processed: Table, days: int | None) -> None:
    days = settings.processed_event_retention_days if days is None else days
    deleted = prune_processed(settings.database_url, processed, keep=retention(days))
    print(f"{processed.fullname}: {deleted} event ids applied over {days} days ago deleted")


def _maintain(settings: ServiceSettings, trims: Sequence[Trim]) -> None:
    if not trims:
        print("nothing to trim")
        return
    schema = trims[0].table.schema or "public"
    deleted = maintain(
        settings.database_url, schema=schema, trims=trims, batch=settings.maintain_batch_size
    )
    if deleted is None:
        print(f"another maintain of {schema} is running: nothing done")
        return
    for trim in trims:
        print(
            f"{trim.table.fullname}: {deleted[trim.table.fullname]} deleted; kept: {trim.retention}"
        )


def _print_outbox_status(settings: ServiceSettings, outbox: Outbox) -> None:
    with standalone_session(settings.database_url) as session:
        status = outbox_status(session, outbox)
    age = (
        ""
        if status.oldest_age is None
        else f", the oldest for {status.oldest_age.total_seconds():.1f} s"
    )
    print(f"{status.table}: {status.unpublished} unpublished{age}")
