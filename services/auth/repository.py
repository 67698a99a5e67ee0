"""Queries of the `auth` schema. Never commits: the service layer owns the transaction."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from services.auth.models import OUTBOX, RefreshToken, User
from shared import outbox
from shared.events import UserEvent


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


def users_query(*, ids: Sequence[int] | None) -> Select[int, str]:
    """Users' ids and usernames, optionally only those with the given ids, unordered."""
    query = select(User.id, User.username)
    return query.where(User.id.in_(ids)) if ids else query


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
