"""Tables of the `auth` schema: users, refresh tokens, login attempts, the outbox of user
events."""

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Uuid,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.core.db import schema_metadata
from shared.messaging.outbox import Outbox

SCHEMA = "auth"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


class User(Base):
    """A person who can sign in. Usernames and emails are unique regardless of case.

    `version` counts the changes other services hear of (username, role): it is the version of
    the user's latest event, so their directories never apply an older one over a newer one.
    """

    __tablename__ = "user"
    __table_args__ = (CheckConstraint("role IN ('user', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), server_default="user")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(Integer, server_default="1")


# Unique regardless of case: "Alice" and "alice" are the same user.
Index("uq_user_username_lower", func.lower(User.username), unique=True)
Index("uq_user_email_lower", func.lower(User.email), unique=True)


class RefreshToken(Base):
    """One refresh token (its hash). Rotation revokes it; a family is one sign-in session."""

    __tablename__ = "refresh_token"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # `manage maintain` trims the tokens long expired.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempt(Base):
    """A count of failed logins (per account, per client address) or of registrations (per
    address) in its current window; see `services/auth/throttle.py`."""

    __tablename__ = "login_attempt"
    # By the latest attempt: the login path's purge and `manage maintain` read it (0004's name).
    __table_args__ = (Index("ix_login_attempt_last_at", "last_at"),)

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(254), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# User events, written in the transaction of the change; the relay is woken on `auth_outbox`.
OUTBOX = Outbox.define(Base.metadata, entity_id="user_id", channel="auth_outbox")
