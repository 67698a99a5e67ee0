"""Deploy-time commands of the tasks service.

python -m services.tasks.manage prestart      # wait for the database, migrate, declare the queue
python -m services.tasks.manage replay --queue kpi.task-events
                                              # re-publish every task event to one queue
python -m services.tasks.manage reset         # empty the user directory, to rebuild it
python -m services.tasks.manage outbox-status # unpublished events, the oldest one's age
python -m services.tasks.manage dead-letters list|redrive|purge   # see shared/ops.py
python -m services.tasks.manage prune-processed                   # forget old event ids

To rebuild the user directory (`make replay CONSUMER=tasks`): run `reset`, then
`python -m services.auth.manage replay --queue tasks.user-events`. Meanwhile an assignee the
directory misses is looked up at auth, as for a user registered a moment ago.
"""

import argparse
from collections.abc import Sequence
from pathlib import Path

from services.tasks import service
from services.tasks.config import TasksSettings
from services.tasks.consumer import subscriptions
from services.tasks.models import OUTBOX, processed_event
from shared.db import standalone_session
from shared.migrations import prestart
from shared.ops import Operations
from shared.replay import replay_command
from shared.subscriptions import ensure_consumer_queues

SERVICE_DIR = Path(__file__).parent
OPERATIONS = Operations(subscriptions=subscriptions, processed=processed_event, outbox=OUTBOX)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m services.tasks.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prestart", help="wait for the database, migrate, declare the queue")
    replay_parser = commands.add_parser("replay", help="re-publish every event to one queue")
    replay_parser.add_argument("--queue", required=True, help="e.g. kpi.task-events")
    commands.add_parser("reset", help="empty the user directory and its processed events")
    OPERATIONS.add_commands(commands)
    args = parser.parse_args(argv)
    settings = TasksSettings()
    if OPERATIONS.run(parser, args, settings):
        return
    if args.command == "prestart":
        prestart(SERVICE_DIR, settings.database_url)
        ensure_consumer_queues(settings, subscriptions(settings))
    elif args.command == "replay":
        replay_command(parser, settings, outbox=OUTBOX, queue=args.queue)
    else:
        with standalone_session(settings.database_url) as session:
            service.reset_user_directory(session)
        print("tasks user directory reset: replay the user events to rebuild it")


if __name__ == "__main__":
    main()
