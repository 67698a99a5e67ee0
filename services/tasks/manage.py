"""Deploy-time commands of the tasks service.

python -m services.tasks.manage prestart      # wait for the database, migrate
python -m services.tasks.manage replay --queue kpi.task-events
                                              # re-publish every task event to one queue
"""

import argparse
from pathlib import Path

from services.tasks.config import TasksSettings
from services.tasks.models import OUTBOX
from shared.migrations import prestart
from shared.replay import replay_command

SERVICE_DIR = Path(__file__).parent


def main() -> None:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m services.tasks.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prestart", help="wait for the database, then migrate")
    replay_parser = commands.add_parser("replay", help="re-publish every event to one queue")
    replay_parser.add_argument("--queue", required=True, help="e.g. kpi.task-events")
    args = parser.parse_args()
    settings = TasksSettings()
    if args.command == "prestart":
        prestart(SERVICE_DIR, settings.database_url)
        return
    replay_command(parser, settings, outbox=OUTBOX, queue=args.queue)


if __name__ == "__main__":
    main()
