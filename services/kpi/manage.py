"""Deploy-time commands of the KPI service.

python -m services.kpi.manage prestart      # wait for the database, migrate, declare the queues
python -m services.kpi.manage reset         # empty the read model, to rebuild it by a replay
python -m services.kpi.manage dead-letters list|redrive|purge   # see shared/ops.py
python -m services.kpi.manage prune-processed                   # forget old event ids

To rebuild the read model and the user directory from the event history
(`make replay CONSUMER=kpi`): run `reset`, then
`python -m services.tasks.manage replay --queue kpi.task-events` and
`python -m services.auth.manage replay --queue kpi.user-events`. The consumer may keep running:
every event carries the full snapshot and version of its task or user, so live events applied
around the reset leave the same state, and their replayed copies are dropped as duplicates.
"""

import argparse
from pathlib import Path

from services.kpi import service
from services.kpi.config import KpiSettings
from services.kpi.consumer import subscriptions
from services.kpi.models import processed_event
from shared.db import standalone_session
from shared.migrations import prestart
from shared.ops import Operations
from shared.subscriptions import ensure_consumer_queues

SERVICE_DIR = Path(__file__).parent
OPERATIONS = Operations(subscriptions=subscriptions, processed=processed_event)


def reset(settings: KpiSettings) -> None:
    """Truncate the read model, the directory and the processed events, in one transaction."""
    with standalone_session(settings.database_url) as session:
        service.reset_read_model(session)


def main() -> None:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m services.kpi.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prestart", help="wait for the database, migrate, declare the queues")
    commands.add_parser("reset", help="empty the read model, the directory, the processed events")
    OPERATIONS.add_commands(commands)
    args = parser.parse_args()
    settings = KpiSettings()
    if OPERATIONS.run(parser, args, settings):
        return
    if args.command == "prestart":
        prestart(SERVICE_DIR, settings.database_url)
        ensure_consumer_queues(settings, subscriptions(settings))
        return
    reset(settings)
    print("kpi read model reset: replay the task and user events to rebuild it")


if __name__ == "__main__":
    main()
