"""Test data for the auth service: keyword-only helpers with sensible defaults."""

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.auth import repository
from services.auth.keys import SigningKey, generate_pem
from services.auth.models import OUTBOX, User
from services.auth.passwords import Passwords
from services.auth.tokens import TokenIssuer
from shared.contracts.events import UserEvent
from shared.contracts.roles import Role

DEFAULT_PASSWORD = "correct-horse-battery"
_numbers = itertools.count(1)
PASSWORDS = Passwords(memory_kib=19 * 1024, time_cost=2, parallelism=1)


def create_user(
    session: Session,
    *,
    username: str | None = None,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    role: Role = Role.USER,
) -> User:
    """A user stored in the test transaction, with no event (as if it predates the test)."""
    number = next(_numbers)
    username = username or f"user{number}"
    return repository.add_user(
        session,
        username=username,
        email=email or f"{username}@example.com",
        password_hash=PASSWORDS.hash(password),
        role=role.value,
    )


def create_access_token(
    key: SigningKey,
    *,
    user_id: int = 1,
    role: Role = Role.USER,
    issuer: str = "efficient-system-auth",
    audience: str = "efficient-system",
    issued_at: datetime | None = None,
    ttl: timedelta = timedelta(minutes=15),
) -> str:
    """An access token signed with `key` (the service's own, or a stranger's)."""
    issuer_ = TokenIssuer(key, issuer=issuer, audience=audience, access_ttl=ttl)
    return issuer_.access_token(user_id=user_id, role=role, now=issued_at or datetime.now(UTC))


def create_foreign_key() -> SigningKey:
    """A signing key the auth service does not know."""
    return SigningKey.from_pem(generate_pem())


def outbox_events(session: Session) -> list[UserEvent]:
    """The user events in `auth.outbox`, oldest first, read as a consumer reads them."""
    payloads = session.scalars(select(OUTBOX.table.c.payload).order_by(OUTBOX.table.c.id))
    return [UserEvent.model_validate(payload) for payload in payloads]
