"""Deploy-time commands of the auth service.

python -m services.auth.manage prestart       # wait for the database, migrate, bootstrap admin
python -m services.auth.manage create-admin --username NAME --email ADDRESS
                                              # password from ADMIN_PASSWORD or a prompt
python -m services.auth.manage replay --queue tasks.user-events.replay
                                              # re-publish every user event to one queue
"""

import argparse
import getpass
import os
from pathlib import Path

from services.auth import service
from services.auth.config import AuthSettings
from services.auth.models import OUTBOX
from services.auth.passwords import Passwords
from shared.db import standalone_session
from shared.migrations import prestart as migrate
from shared.replay import replay_command

SERVICE_DIR = Path(__file__).parent


def create_admin(
    settings: AuthSettings,
    *,
    username: str,
    email: str,
    password: str,
    promote: bool = True,
    reset_password: bool = False,
) -> None:
    """Create (or promote) the admin user; see `service.ensure_admin`."""
    with standalone_session(settings.database_url) as session:
        service.ensure_admin(
            session,
            username=username,
            email=email,
            password=password,
            passwords=Passwords.from_settings(settings),
            promote=promote,
            reset_password=reset_password,
        )


def prestart(settings: AuthSettings) -> None:
    """Wait for the database, apply migrations, and create the configured admin if any."""
    migrate(SERVICE_DIR, settings.database_url)
    if settings.admin_username and settings.admin_password:
        create_admin(
            settings,
            username=settings.admin_username,
            email=settings.admin_email or f"{settings.admin_username}@localhost.localdomain",
            password=settings.admin_password.get_secret_value(),
        )


def main() -> None:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m services.auth.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prestart", help="wait for the database, migrate, bootstrap the admin")
    admin = commands.add_parser("create-admin", help="create or promote an admin user")
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    replay_parser = commands.add_parser("replay", help="re-publish every event to one queue")
    replay_parser.add_argument("--queue", required=True, help="e.g. tasks.user-events.replay")
    args = parser.parse_args()
    settings = AuthSettings()
    if args.command == "prestart":
        prestart(settings)
    elif args.command == "replay":
        replay_command(parser, settings, outbox=OUTBOX, queue=args.queue)
    else:
        password = os.environ.get("ADMIN_PASSWORD") or getpass.getpass("Admin password: ")
        if len(password) < 12:
            parser.error("the admin password must be at least 12 characters")
        create_admin(settings, username=args.username, email=args.email, password=password)
        print(f"{args.username} is an admin.")


if __name__ == "__main__":
    main()
