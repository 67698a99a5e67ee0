"""Queries of the `auth` schema. Never commits: the service layer owns the transaction."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, FromClause

from services.auth.models import OUTBOX, LoginAttempt, RefreshToken, User
from services.auth.throttle import Attempts, Scope
from shared.contracts.events import UserEvent
from shared.core.db import table_of
from shared.core.retention import Trim
from shared.messaging import outbox
from shared.web.pagination import ListQuery

ATTEMPTS = table_of(LoginAttempt)
KEY_LENGTH = 254


@dataclass(frozen=True)
class LoginState:
    """What a login needs to know first: the user's id and hash, and the two failure counts."""

    user_id: int | None
    password_hash: str | None
    account: Attempts | None
    address: Attempts | None


def get_user(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_username(session: Session, *, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def find_taken(session: Session, *, username: str, email: str) -> list[str]:
    """Which of `username` and `email` another user already has."""
    rows = session.execute(
        select(User.username, User.email).where(
            or_(
                func.lower(User.username) == username.lower(),
                func.lower(User.email) == email.lower(),
            )
        )
    ).all()
    taken = []
    if any(row.username.lower() == username.lower() for row in rows):
        taken.append("username")
    if any(row.email.lower() == email.lower() for row in rows):
        taken.append("email")
    return taken


def add_user(session: Session, *, username: str, email: str, password_hash: str, role: str) -> User:
    user = User(username=username, email=email, password_hash=password_hash, role=role, version=1)
    session.add(user)
    session.flush()
    return user


def users_query(*, ids: Sequence[int] | None) -> ListQuery:
    """Users' ids and usernames, optionally only those with the given ids, unordered."""
    if ids:
        return ListQuery(_USERS_BY_ID, {"ids": list(ids)})
    return ListQuery(_USERS, {})


_USERS = select(User.id, User.username)
_USERS_BY_ID = _USERS.where(User.id.in_(bindparam("ids", expanding=True)))


def add_refresh_token(
    session: Session, *, user_id: int, token_hash: str, family_id: uuid.UUID, expires_at: datetime
) -> RefreshToken:
    token = RefreshToken(
        user_id=user_id, token_hash=token_hash, family_id=family_id, expires_at=expires_at
    )
    session.add(token)
    session.flush()
    return token


def get_refresh_token_for_update(session: Session, *, token_hash: str) -> RefreshToken | None:
    """The token row, locked so two concurrent refreshes cannot both rotate it."""
    return session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == token_hash)
        .with_for_update(of=RefreshToken)
    )


def revoke_family(session: Session, *, family_id: uuid.UUID, at: datetime) -> None:
    """Revoke every still-valid token of one sign-in session."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def add_outbox_event(session: Session, *, event: UserEvent) -> None:
    """Store the event in the caller's transaction; the relay is woken when it commits."""
    outbox.add_event(session, OUTBOX, event=event, entity_id=event.user_id)


def login_state(session: Session, *, username: str, address: str) -> LoginState:
    """The user (if any) and the account's and the address's counts, in one statement."""
    one = select(literal(1).label("one")).subquery("one")
    account = ATTEMPTS.alias("account_attempts")
    by_address = ATTEMPTS.alias("address_attempts")
    row = session.execute(
        select(User.id, User.password_hash, *_counts(account), *_counts(by_address))
        .select_from(one)
        .outerjoin(User, func.lower(User.username) == username.lower())
        .outerjoin(account, _is(account, Scope.ACCOUNT, username.lower()))
        .outerjoin(by_address, _is(by_address, Scope.ADDRESS, address))
    ).one()
    return LoginState(
        user_id=row[0],
        password_hash=row[1],
        account=_attempts(row[2:5]),
        address=_attempts(row[5:8]),
    )


def count_attempts(
    session: Session, *, keys: Sequence[tuple[Scope, str]], now: datetime, window: timedelta
) -> dict[Scope, Attempts]:
    """Add one attempt to each count (a count whose window is over starts again at 1)."""
    statement = insert(LoginAttempt).values(
        [
            {
                "scope": scope.value,
                "key": key[:KEY_LENGTH],
                "count": 1,
                "window_started_at": now,
                "last_at": now,
            }
            for scope, key in keys
        ]
    )
    over = LoginAttempt.window_started_at <= now - window
    rows = session.execute(
        statement.on_conflict_do_update(
            index_elements=[LoginAttempt.scope, LoginAttempt.key],
            set_={
                "count": case((over, 1), else_=LoginAttempt.count + 1),
                "window_started_at": case((over, now), else_=LoginAttempt.window_started_at),
                "last_at": now,
            },
        ).returning(LoginAttempt.scope, *_counts(ATTEMPTS))
    ).all()
    return {Scope(row[0]): Attempts(*row[1:]) for row in rows}


def reset_attempts(session: Session, *, scope: Scope, key: str) -> None:
    session.execute(delete(LoginAttempt).where(_is(ATTEMPTS, scope, key[:KEY_LENGTH])))


def retention_trims(*, token_keep: timedelta, attempt_keep: timedelta) -> list[Trim]:
    """`manage maintain`'s trims: refresh tokens expired longer than `token_keep` ago, counts
    of attempts whose latest one is older than `attempt_keep` (read through their indexes)."""
    return [
        Trim(
            table=table_of(RefreshToken),
            expired=lambda now: RefreshToken.expires_at < now - token_keep,
            retention=f"refresh tokens until {token_keep.days} days past their expiry",
        ),
        Trim(
            table=table_of(LoginAttempt),
            expired=lambda now: LoginAttempt.last_at < now - attempt_keep,
            retention=f"login counts for {attempt_keep.total_seconds():.0f} s after their latest",
        ),
    ]


def _counts(table: FromClause) -> tuple[ColumnElement[Any], ...]:
    return (table.c.count, table.c.window_started_at, table.c.last_at)


def _is(table: FromClause, scope: Scope, key: str) -> ColumnElement[bool]:
    return and_(table.c.scope == scope.value, table.c.key == key[:KEY_LENGTH])


def _attempts(values: Sequence[Any]) -> Attempts | None:
    return None if values[0] is None else Attempts(*values)
