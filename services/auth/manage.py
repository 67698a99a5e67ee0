"""Deploy-time commands of the auth service.

python -m services.auth.manage prestart       # wait for the database, migrate, bootstrap admin
python -m services.auth.manage create-admin --username NAME --email ADDRESS [--promote]
                                              # password from ADMIN_PASSWORD or a prompt
python -m services.auth.manage replay --queue tasks.user-events.replay
                                              # re-publish every user event to one queue
python -m services.auth.manage rotate-key [--next-file PATH]
                                              # stage a new key: published, signing nothing yet
python -m services.auth.manage promote-key [--key-file PATH --previous-file PATH --next-file PATH]
                                              # the staged key signs; the old one stays published
python -m services.auth.manage outbox-status  # unpublished events, the oldest one's age
"""

import argparse
import getpass
import os
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import structlog

from services.auth import keys, repository, service
from services.auth.config import AuthSettings
from services.auth.models import OUTBOX
from services.auth.passwords import Passwords
from services.auth.throttle import Throttle
from shared.core.db import standalone_session
from shared.core.errors import ConflictError
from shared.core.migrations import prestart as migrate
from shared.core.retention import Trim
from shared.messaging.ops import Operations
from shared.messaging.replay import replay_command

SERVICE_DIR = Path(__file__).parent


def retention_trims(settings: AuthSettings) -> list[Trim]:
    """The auth tables `maintain` trims besides the outbox: refresh tokens, login counts."""
    throttle = Throttle.from_settings(settings)
    return repository.retention_trims(
        token_keep=timedelta(days=settings.refresh_token_retention_days),
        attempt_keep=throttle.window + throttle.max_wait,  # as the login path's own purge
    )


OPERATIONS: Operations[AuthSettings] = Operations(
    outbox=OUTBOX, trims=retention_trims, service_dir=SERVICE_DIR
)
logger = structlog.get_logger(__name__)


def create_admin(
    settings: AuthSettings,
    *,
    username: str,
    email: str,
    password: str,
    promote: bool = False,
    reset_password: bool = False,
) -> None:
    """Create the admin user (or, with `promote`, promote that user); see `ensure_admin`."""
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


def prestart(settings: AuthSettings, *, with_contract: bool = False) -> None:
    """Wait for the database, apply migrations, and create the configured admin if any.

    A name already taken by a user who is not an admin is refused and logged, and the start
    goes on: whoever registered that name first cannot block deployments.
    """
    migrate(SERVICE_DIR, settings.database_url, with_contract=with_contract)
    if settings.admin_username and settings.admin_password:
        try:
            create_admin(
                settings,
                username=settings.admin_username,
                email=settings.admin_email or f"{settings.admin_username}@localhost.localdomain",
                password=settings.admin_password.get_secret_value(),
            )
        except ConflictError as exc:
            logger.error(
                "admin_bootstrap_refused", username=settings.admin_username, reason=str(exc)
            )


# How long a staged key must have been published before it may sign: the JWKS caches'
# lifetime (`Cache-Control: max-age=300` on the JWKS, the verifiers' refresh interval).
PUBLICATION_DELAY_SECONDS = 300


def rotate_key(settings: AuthSettings, *, next_file: Path | None) -> str:
    """Stage a new key as the next key (step 1 of a rotation); what to say."""
    next_file = next_file or keys.key_paths(settings).next
    if next_file is None:
        raise ValueError("the next key must be a file: set JWT_NEXT_KEY_FILE or pass --next-file")
    kid = keys.stage(next_file=next_file)
    return (
        f"{next_file} now holds the next key (kid {kid}). Roll out auth so every replica "
        f"publishes it; {PUBLICATION_DELAY_SECONDS} s after the rollout, run promote-key."
    )


def promote_key(
    settings: AuthSettings,
    *,
    key_file: Path | None,
    previous_file: Path | None,
    next_file: Path | None,
    now: float | None = None,
) -> str:
    """Make the staged key current, keep the old one as the previous key (step 2); what to say.

    Refused while the staged key is younger than the publication delay (`now` is the time to
    compare with; None: `time.time()`).
    """
    files = keys.key_paths(settings)
    key_file, previous_file = key_file or files.current, previous_file or files.previous
    next_file = next_file or files.next
    if key_file is None or previous_file is None or next_file is None:
        raise ValueError(
            "the keys must be files: set JWT_PRIVATE_KEY_FILE, JWT_PREVIOUS_KEY_FILE and "
            "JWT_NEXT_KEY_FILE, or pass --key-file, --previous-file and --next-file"
        )
    if next_file.exists():
        age = (time.time() if now is None else now) - next_file.stat().st_mtime
        if age < PUBLICATION_DELAY_SECONDS:
            raise ValueError(
                f"the next key was staged {age:.0f} s ago: roll out auth, then promote it "
                f"{PUBLICATION_DELAY_SECONDS} s later, once every JWKS cache holds it"
            )
    old_kid, new_kid = keys.promote(
        key_file=key_file, previous_file=previous_file, next_file=next_file
    )
    return (
        f"{key_file} now holds the staged key (kid {new_kid}); {previous_file} the previous one "
        f"(kid {old_kid}); {next_file} is empty. Roll out auth: tokens signed before stay valid "
        "until they expire."
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m services.auth.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    prestart_parser = commands.add_parser(
        "prestart", help="wait for the database, migrate, bootstrap the admin"
    )
    prestart_parser.add_argument(
        "--contract", action="store_true", help="also the contract migrations (nothing older runs)"
    )
    admin = commands.add_parser("create-admin", help="create or promote an admin user")
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument(
        "--promote",
        action="store_true",
        help="make an existing user admin (its email must be --email)",
    )
    replay_parser = commands.add_parser("replay", help="re-publish every event to one queue")
    replay_parser.add_argument("--queue", required=True, help="e.g. tasks.user-events.replay")
    rotate = commands.add_parser("rotate-key", help="stage a new key: published, not signing")
    rotate.add_argument("--next-file", type=Path, help="default: JWT_NEXT_KEY_FILE")
    promote = commands.add_parser("promote-key", help="make the staged key sign")
    promote.add_argument("--key-file", type=Path, help="default: the configured key's file")
    promote.add_argument("--previous-file", type=Path, help="default: JWT_PREVIOUS_KEY_FILE")
    promote.add_argument("--next-file", type=Path, help="default: JWT_NEXT_KEY_FILE")
    OPERATIONS.add_commands(commands)
    args = parser.parse_args(argv)
    settings = AuthSettings()
    if OPERATIONS.run(parser, args, settings):
        return
    if args.command == "prestart":
        prestart(settings, with_contract=args.contract)
    elif args.command == "replay":
        replay_command(parser, settings, outbox=OUTBOX, queue=args.queue)
    elif args.command in ("rotate-key", "promote-key"):
        try:
            print(
                rotate_key(settings, next_file=args.next_file)
                if args.command == "rotate-key"
                else promote_key(
                    settings,
                    key_file=args.key_file,
                    previous_file=args.previous_file,
                    next_file=args.next_file,
                )
            )
        except (ValueError, OSError) as exc:
            parser.exit(1, f"refused: {exc}\n")
    else:
        password = os.environ.get("ADMIN_PASSWORD") or getpass.getpass("Admin password: ")
        if len(password) < 12:
            parser.error("the admin password must be at least 12 characters")
        try:
            create_admin(
                settings,
                username=args.username,
                email=args.email,
                password=password,
                promote=args.promote,
            )
        except ConflictError as exc:
            parser.exit(1, f"refused: {exc}\n")
        print(f"{args.username} is an admin.")


if __name__ == "__main__":
    main()
