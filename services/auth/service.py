"""Auth use cases. Each one is a single transaction, committed here.

A change other services hear of (a new user, a new username or role) stores its user event in
`auth.outbox` in that same transaction.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.auth import repository
from services.auth.models import User
from services.auth.passwords import Passwords
from services.auth.schemas import TokenPair, UserCreate, UserSummary
from services.auth.throttle import AccountQueue, Scope, Throttle
from services.auth.tokens import TokenIssuer, hash_refresh_token, new_refresh_token
from shared.contracts.events import FieldChange, UserEvent, UserEventType, UserSnapshot
from shared.contracts.roles import Role
from shared.core.db import Database
from shared.core.errors import ConflictError, NotFoundError, UnauthorizedError
from shared.web.pagination import Keyset, Page, PageParams, paginate

INVALID_CREDENTIALS = "Incorrect username or password."


@dataclass(frozen=True)
class Credentials:
    """What the service needs to check passwords, limit guessing and issue tokens."""

    passwords: Passwords
    issuer: TokenIssuer
    refresh_ttl: timedelta
    throttle: Throttle = field(default_factory=Throttle)
    accounts: AccountQueue = field(default_factory=AccountQueue)


def count_registration(session: Session, *, address: str, throttle: Throttle) -> None:
    """Count a registration from `address`; 429 past the limit (checked before any hashing)."""
    now = datetime.now(UTC)
    counts = repository.count_attempts(
        session, keys=[(Scope.REGISTER, address)], now=now, window=throttle.window
    )
    session.commit()
    throttle.check_registration(counts[Scope.REGISTER], now=now)


def register(session: Session, *, data: UserCreate, password_hash: str) -> User:
    """Create a user with the `user` role; 409 if the username or email is taken.

    The caller hashes the password beforehand, in the hashing pool (`Passwords.hash_async`).
    """
    email = data.email.lower()
    taken = repository.find_taken(session, username=data.username, email=email)
    if taken:
        raise ConflictError(f"That {' and '.join(taken)} is already registered.")
    try:
        user = repository.add_user(
            session,
            username=data.username,
            email=email,
            password_hash=password_hash,
            role=Role.USER.value,
        )
        _record(session, UserEventType.REGISTERED, user=user, actor_id=user.id)
        session.commit()
    except IntegrityError as exc:  # a concurrent registration won the race
        session.rollback()
        raise ConflictError("That username or email is already registered.") from exc
    return user


async def login(
    database: Database, *, username: str, password: str, address: str, credentials: Credentials
) -> TokenPair:
    """Tokens for valid credentials; one and the same 401 for a wrong password or unknown user.

    Three steps, so no database connection waits for the hash: read the stored hash with the
    account's and the address's failure counts (429 while either has to wait), check it in
    the hashing pool, then record the new sign-in session, or the failure (one statement).
    An account's attempts take turns in this process, so each sees the counts before it.
    """
    account, throttle = username.lower(), credentials.throttle
    async with credentials.accounts.turn(account):
        state = await database.read(repository.login_state, username=username, address=address)
        throttle.check_login(state.account, state.address, now=datetime.now(UTC))
        valid, new_hash = await credentials.passwords.verify_async(password, state.password_hash)
        if state.user_id is None or not valid:
            await database.run(_count_failure, account=account, address=address, throttle=throttle)
            raise UnauthorizedError(INVALID_CREDENTIALS, code="invalid_credentials")
        return await database.run(
            _start_session,
            user_id=state.user_id,
            new_hash=new_hash,
            reset_account=account if state.account else None,
            credentials=credentials,
        )


def _count_failure(session: Session, *, account: str, address: str, throttle: Throttle) -> None:
    now = datetime.now(UTC)
    keys = [(Scope.ACCOUNT, account), (Scope.ADDRESS, address)]
    repository.count_attempts(session, keys=keys, now=now, window=throttle.window)
    session.commit()


def _start_session(
    session: Session,
    *,
    user_id: int,
    new_hash: str | None,
    reset_account: str | None,
    credentials: Credentials,
) -> TokenPair:
    user = repository.get_user(session, user_id=user_id)
    if user is None:  # deleted between the two steps
        raise UnauthorizedError(INVALID_CREDENTIALS, code="invalid_credentials")
    if new_hash:
        user.password_hash = new_hash
    if reset_account is not None:  # only when the account has a count: no statement otherwise
        repository.reset_attempts(session, scope=Scope.ACCOUNT, key=reset_account)
    pair = _issue(session, user=user, family_id=uuid.uuid4(), credentials=credentials)
    session.commit()
    return pair


def refresh(session: Session, *, refresh_token: str, credentials: Credentials) -> TokenPair:
    """Rotate a refresh token. Presenting a revoked one revokes its whole session (reuse)."""
    now = datetime.now(UTC)
    token = repository.get_refresh_token_for_update(
        session, token_hash=hash_refresh_token(refresh_token)
    )
    if token is None:
        raise UnauthorizedError("The refresh token is not valid.", code="invalid_refresh_token")
    if token.revoked_at is not None:
        repository.revoke_family(session, family_id=token.family_id, at=now)
        session.commit()
        raise UnauthorizedError("The refresh token was already used.", code="invalid_refresh_token")
    if token.expires_at <= now:
        raise UnauthorizedError("The refresh token has expired.", code="refresh_token_expired")
    token.revoked_at = now
    pair = _issue(session, user=token.user, family_id=token.family_id, credentials=credentials)
    session.commit()
    return pair


def logout(session: Session, *, refresh_token: str) -> None:
    """Revoke the session the refresh token belongs to; unknown tokens are ignored."""
    token = repository.get_refresh_token_for_update(
        session, token_hash=hash_refresh_token(refresh_token)
    )
    if token is not None:
        repository.revoke_family(session, family_id=token.family_id, at=datetime.now(UTC))
        session.commit()


def get_user(session: Session, *, user_id: int) -> User:
    """The user with this id; 404 if there is none."""
    user = repository.get_user(session, user_id=user_id)
    if user is None:
        raise NotFoundError("No user has this id.")
    return user


def list_users(
    session: Session, *, ids: Sequence[int] | None, params: PageParams
) -> Page[UserSummary]:
    """A page of users (id and username) by id, optionally only those with the given ids."""
    scope = f"users:{sorted(set(ids or []))}"
    return paginate(
        session,
        repository.users_query(ids=ids),
        keyset=Keyset([User.id.expression], descending=False, scope=scope),
        params=params,
        page_type=Page[UserSummary],
    )


def ensure_admin(
    session: Session,
    *,
    username: str,
    email: str,
    password: str,
    passwords: Passwords,
    promote: bool = False,
    reset_password: bool = False,
) -> User:
    """Create the admin; an existing admin of that name is kept as it is.

    An existing user who is not an admin may have been registered by anyone, so it is a 409
    unless `promote` is given and `email` is that user's address. An existing password is kept
    unless `reset_password`. An operator's command: the events it stores have no actor.
    """
    user = repository.get_user_by_username(session, username=username)
    if user is None:
        user = _add_admin(
            session, username=username, email=email, password_hash=passwords.hash(password)
        )
    elif user.role != Role.ADMIN.value:
        _promote(session, user=user, email=email, promote=promote)
    if reset_password:
        user.password_hash = passwords.hash(password)
    session.commit()
    return user


def _add_admin(session: Session, *, username: str, email: str, password_hash: str) -> User:
    """A new admin; 409 when another user has the address (whoever registered it first may
    not block the bootstrap, nor be made admin)."""
    if "email" in repository.find_taken(session, username=username, email=email):
        raise ConflictError(
            f"{email} is registered by another user; the admin {username} is not created. "
            "Choose another address (ADMIN_EMAIL, --email)."
        )
    try:
        user = repository.add_user(
            session,
            username=username,
            email=email.lower(),
            password_hash=password_hash,
            role=Role.ADMIN.value,
        )
    except IntegrityError as exc:  # a registration of that name or address won the race
        session.rollback()
        raise ConflictError(f"{username} or {email} was registered meanwhile.") from exc
    _record(session, UserEventType.REGISTERED, user=user, actor_id=None)
    return user


def _promote(session: Session, *, user: User, email: str, promote: bool) -> None:
    """Make an existing user admin, only when asked to and only with that user's email."""
    if not promote:
        raise ConflictError(
            f"{user.username} is an existing user who is not an admin; choose another name, "
            "or promote that account explicitly (--promote) with its email."
        )
    if user.email.lower() != email.lower():
        raise ConflictError(
            f"{user.username} is registered with another email; it is not promoted."
        )
    change = FieldChange(old=user.role, new=Role.ADMIN.value)
    user.role = Role.ADMIN.value
    user.version += 1
    _record(session, UserEventType.UPDATED, user=user, actor_id=None, changes={"role": change})


def _record(
    session: Session,
    event_type: UserEventType,
    *,
    user: User,
    actor_id: int | None,
    changes: dict[str, FieldChange] | None = None,
) -> None:
    """Store the user's event at its current version, with its public facts (never the email)."""
    event = UserEvent(
        event_id=uuid.uuid4(),
        event_type=event_type,
        occurred_at=datetime.now(UTC),
        actor_id=actor_id,
        user_id=user.id,
        version=user.version,
        user=UserSnapshot(id=user.id, username=user.username, role=Role(user.role)),
        changes=changes or {},
    )
    repository.add_outbox_event(session, event=event)


def _issue(
    session: Session, *, user: User, family_id: uuid.UUID, credentials: Credentials
) -> TokenPair:
    now = datetime.now(UTC)
    refresh_token = new_refresh_token()
    repository.add_refresh_token(
        session,
        user_id=user.id,
        token_hash=hash_refresh_token(refresh_token),
        family_id=family_id,
        expires_at=now + credentials.refresh_ttl,
    )
    issuer = credentials.issuer
    return TokenPair(
        access_token=issuer.access_token(user_id=user.id, role=Role(user.role), now=now),
        expires_in=int(issuer.access_ttl.total_seconds()),
        refresh_token=refresh_token,
    )
