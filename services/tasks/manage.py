"""Deploy-time commands of the tasks service.

python -m services.tasks.manage prestart      # wait for the database, migrate
"""

import argparse
from pathlib import Path

from services.tasks.config import TasksSettings
from shared.migrations import prestart

SERVICE_DIR = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.tasks.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prestart", help="wait for the database, then migrate")
    parser.parse_args()
    prestart(SERVICE_DIR, TasksSettings().database_url)


if __name__ == "__main__":
    main()
