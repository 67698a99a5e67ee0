"""Deploy-time commands of the tasks service.

python -m services.tasks.manage prestart      # wait for the database, migrate
"""

import argparse
import asyncio
from pathlib import Path

from services.tasks.config import TasksSettings
from services.tasks.replay import UnknownQueueError, replay
from shared.migrations import prestart

SERVICE_DIR = Path(__file__).parent


def main() -> None:
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
    try:
        count = asyncio.run(replay(settings, queue=args.queue))
    except UnknownQueueError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"replayed {count} events to {args.queue}")


if __name__ == "__main__":
    main()
