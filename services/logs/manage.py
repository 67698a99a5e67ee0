"""Deploy-time commands of the logs service.

python -m services.logs.manage prestart        # wait for the database, migrate, declare the queues
python -m services.logs.manage replay-start    # rebuild the activity log: step 1
python -m services.logs.manage replay-finish   # step 3, after the tasks service's `replay`
python -m services.logs.manage replay-abort    # drop an unfinished replay
python -m services.logs.manage dead-letters list|redrive|purge   # see shared/messaging/ops.py
python -m services.logs.manage prune-processed                   # forget old event ids

`make replay CONSUMER=logs` runs the three steps, with
`python -m services.tasks.manage replay --queue logs.task-events.replay` between them. The API
answers from the old log until the new one has caught up (`shared/messaging/rebuild.py`).
"""

import argparse
from collections.abc import Sequence
from pathlib import Path

from services.logs.config import LogsSettings
from services.logs.consumer import read_model, subscriptions
from services.logs.models import processed_event
from shared.core.migrations import prestart
from shared.messaging.ops import Operations
from shared.messaging.replay import add_rebuild_commands, run_rebuild_command
from shared.messaging.subscriptions import ensure_consumer_queues

SERVICE_DIR = Path(__file__).parent
OPERATIONS = Operations(
    subscriptions=subscriptions, processed=processed_event, service_dir=SERVICE_DIR
)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m services.logs.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    prestart_parser = commands.add_parser(
        "prestart", help="wait for the database, migrate, declare the queues"
    )
    prestart_parser.add_argument(
        "--contract", action="store_true", help="also the contract migrations (nothing older runs)"
    )
    add_rebuild_commands(commands)
    OPERATIONS.add_commands(commands)
    args = parser.parse_args(argv)
    settings = LogsSettings()
    if OPERATIONS.run(parser, args, settings):
        return
    if args.command == "prestart":
        prestart(SERVICE_DIR, settings.database_url, with_contract=args.contract)
        ensure_consumer_queues(settings, subscriptions(settings))
    else:
        run_rebuild_command(parser, args, settings, read_model(settings))


if __name__ == "__main__":
    main()
