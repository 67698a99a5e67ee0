"""Deploy-time commands of the logs service.

python -m services.logs.manage prestart   # wait for the database, migrate, declare the queues
python -m services.logs.manage reset      # empty the activity log, so a replay rebuilds it
python -m services.logs.manage dead-letters list|redrive|purge   # see shared/ops.py
python -m services.logs.manage prune-processed                   # forget old event ids
"""

import argparse
from collections.abc import Sequence
from pathlib import Path

from services.logs import service
from services.logs.config import LogsSettings
from services.logs.consumer import subscriptions
from services.logs.models import processed_event
from shared.db import standalone_session
from shared.migrations import prestart
from shared.ops import Operations
from shared.subscriptions import ensure_consumer_queues

SERVICE_DIR = Path(__file__).parent
OPERATIONS = Operations(subscriptions=subscriptions, processed=processed_event)


def reset(settings: LogsSettings) -> None:
    """Truncate `logs.activity_log` and `logs.processed_event` in one transaction."""
    with standalone_session(settings.database_url) as session:
        service.reset_read_model(session)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m services.logs.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prestart", help="wait for the database, migrate, declare the queues")
    commands.add_parser(
        "reset", help="empty the activity log and its processed events (before a replay)"
    )
    OPERATIONS.add_commands(commands)
    args = parser.parse_args(argv)
    settings = LogsSettings()
    if OPERATIONS.run(parser, args, settings):
        return
    if args.command == "prestart":
        prestart(SERVICE_DIR, settings.database_url)
        ensure_consumer_queues(settings, subscriptions(settings))
    else:
        reset(settings)
        print("The activity log is empty; replayed task events will rebuild it.")


if __name__ == "__main__":
    main()
