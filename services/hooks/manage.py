"""Deploy-time commands of the hooks service.

python -m services.hooks.manage prestart        # wait for the database, migrate, declare the queue
python -m services.hooks.manage dead-letters list|redrive|purge   # see shared/messaging/ops.py
python -m services.hooks.manage prune-processed                   # forget old event ids
python -m services.hooks.manage maintain                          # trim past retention
python -m services.hooks.manage contract                          # the contract migrations
"""

import argparse
from collections.abc import Sequence
from pathlib import Path

from services.hooks.config import HooksSettings
from services.hooks.consumer import subscriptions
from services.hooks.models import processed_event
from shared.core.migrations import prestart
from shared.messaging.ops import Operations
from shared.messaging.subscriptions import ensure_consumer_queues

SERVICE_DIR = Path(__file__).parent
OPERATIONS = Operations(
    subscriptions=subscriptions, processed=processed_event, service_dir=SERVICE_DIR
)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m services.hooks.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    prestart_parser = commands.add_parser(
        "prestart", help="wait for the database, migrate, declare the queue"
    )
    prestart_parser.add_argument(
        "--contract", action="store_true", help="also the contract migrations (nothing older runs)"
    )
    OPERATIONS.add_commands(commands)
    args = parser.parse_args(argv)
    settings = HooksSettings()
    if OPERATIONS.run(parser, args, settings):
        return
    prestart(SERVICE_DIR, settings.database_url, with_contract=args.contract)
    ensure_consumer_queues(settings, subscriptions(settings))


if __name__ == "__main__":
    main()
