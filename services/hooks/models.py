"""Tables of the `hooks` schema: endpoints, their deliveries and each delivery's attempts.

A delivery is one event for one endpoint; its attempts are the HTTP requests that carried it.
The dispatcher claims due deliveries (`status = 'pending'`, `next_attempt_at` passed) with
`FOR UPDATE SKIP LOCKED` and moves `next_attempt_at` past the attempt's timeout while it runs
(a lease: a dispatcher that dies mid-attempt leaves the delivery to another one, later).
"""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.core.db import schema_metadata
from shared.messaging.applying import processed_event_table

SCHEMA = "hooks"
# Dispatchers are woken on this channel (LISTEN/NOTIFY) when deliveries become due.
CHANNEL = "hooks_delivery"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


class EndpointStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class DisabledReason(StrEnum):
    """Why an endpoint stopped receiving: an admin, a 410 answer, or days of failures."""

    MANUAL = "manual"
    GONE = "gone"
    FAILING = "failing"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # every attempt of the schedule failed, or the endpoint answered 410


class Endpoint(Base):
    """A receiver an admin registered: where to send which events, and the secret to sign with."""

    __tablename__ = "endpoint"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'disabled')", name="status"),
        CheckConstraint(
            "disabled_reason IS NULL OR disabled_reason IN ('manual', 'gone', 'failing')",
            name="disabled_reason",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    status: Mapped[str] = mapped_column(String(16), server_default=EndpointStatus.ACTIVE.value)
    disabled_reason: Mapped[str | None] = mapped_column(String(16))
    secret: Mapped[str] = mapped_column(Text)  # `whsec_<base64>`
    # After a rotation the old secret signs too, until `previous_secret_expires_at`.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The first failed attempt since the last success: failing for days disables the endpoint.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Delivery(Base):
    """One event for one endpoint; `event_id` is its `webhook-id`, the same on every attempt."""

    __tablename__ = "delivery"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        UniqueConstraint("endpoint_id", "event_id", name="uq_delivery_endpoint_id_event_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("endpoint.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_type: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)  # the exact bytes signed and sent, every attempt
    status: Mapped[str] = mapped_column(String(16), server_default=DeliveryStatus.PENDING.value)
    attempt_count: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The claim of the attempt in flight: only its dispatcher may record the outcome.
    lease: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Attempt(Base):
    """One HTTP request carrying a delivery, and what came of it."""

    __tablename__ = "attempt"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("delivery.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)  # none: no answer
    duration_ms: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[bool] = mapped_column(server_default=text("false"))
    error: Mapped[str | None] = mapped_column(Text)


# The dispatcher's claim: due pending deliveries, oldest due first.
Index(
    "ix_delivery_due",
    Delivery.next_attempt_at,
    postgresql_where=text("status = 'pending'"),
)
Index("ix_delivery_endpoint_id", Delivery.endpoint_id, Delivery.id)
Index("ix_attempt_delivery_id", Attempt.delivery_id, Attempt.id)

processed_event = processed_event_table(Base.metadata)
