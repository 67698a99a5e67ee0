"""Deploy-time commands of the tasks service.

python -m services.tasks.manage prestart      # wait for the database, migrate, declare the queue
python -m services.tasks.manage replay --queue kpi.task-events.replay
                                              # re-publish every task event to one queue
python -m services.tasks.manage replay-start  # rebuild the user directory: step 1
python -m services.tasks.manage replay-finish # step 3, after auth's `replay`
python -m services.tasks.manage replay-abort  # drop an unfinished replay
python -m services.tasks.manage outbox-status # unpublished events, the oldest one's age
python -m services.tasks.manage dead-letters list|redrive|purge   # see shared/messaging/ops.py
python -m services.tasks.manage prune-processed                   # forget old event ids

`make replay CONSUMER=tasks` rebuilds the user directory: `replay-start`, then
`python -m services.auth.manage replay --queue tasks.user-events.replay`, then `replay-finish`.
The old directory serves until the new one has caught up (`shared/messaging/rebuild.py`).
"""

import argparse
from collections.abc import Sequence
from pathlib import Path

from services.tasks.config import TasksSettings
from services.tasks.consumer import read_model, subscriptions
from services.tasks.models import OUTBOX, processed_event
from shared.core.migrations import prestart
from shared.messaging.ops import Operations
from shared.messaging.replay import add_rebuild_commands, replay_command, run_rebuild_command
from shared.messaging.subscriptions import ensure_consumer_queues

SERVICE_DIR = Path(__file__).parent
OPERATIONS = Operations(
    subscriptions=subscriptions,
    processed=processed_event,
    outbox=OUTBOX,
    service_dir=SERVICE_DIR,
)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m services.tasks.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    prestart_parser = commands.add_parser(
        "prestart", help="wait for the database, migrate, declare the queue"
    )
    prestart_parser.add_argument(
        "--contract", action="store_true", help="also the contract migrations (nothing older runs)"
    )
    replay_parser = commands.add_parser("replay", help="re-publish every event to one queue")
    replay_parser.add_argument("--queue", required=True, help="e.g. kpi.task-events.replay")
    add_rebuild_commands(commands)
    OPERATIONS.add_commands(commands)
    args = parser.parse_args(argv)
    settings = TasksSettings()
    if OPERATIONS.run(parser, args, settings):
        return
    if args.command == "prestart":
        prestart(SERVICE_DIR, settings.database_url, with_contract=args.contract)
        ensure_consumer_queues(settings, subscriptions(settings))
    elif args.command == "replay":
        replay_command(parser, settings, outbox=OUTBOX, queue=args.queue)
    else:
        run_rebuild_command(parser, args, settings, read_model(settings))


if __name__ == "__main__":
    main()
