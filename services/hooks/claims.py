"""The dispatcher's queries: claim due deliveries, record what an attempt came to. Never commits.

A claim locks due rows with `FOR UPDATE SKIP LOCKED` (another dispatcher skips them instead of
waiting), takes at most as many per endpoint as the endpoint has free slots here, and moves
their `next_attempt_at` past the attempt's timeout under a fresh `lease`: once the claim
commits, no other dispatcher sees them due until the lease has run out. Only the lease's holder
records the outcome, so two dispatchers never send one attempt twice.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, text, update
from sqlalchemy.orm import Session

from services.hooks import schedule
from services.hooks.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    DisabledReason,
    Endpoint,
    EndpointStatus,
)

_CLAIM = text(
    """
    WITH locked AS (
        SELECT delivery.id, delivery.endpoint_id, delivery.next_attempt_at
        FROM hooks.delivery AS delivery
        JOIN hooks.endpoint AS endpoint ON endpoint.id = delivery.endpoint_id
        WHERE delivery.status = 'pending' AND delivery.next_attempt_at <= :now
          AND endpoint.status = 'active'
          AND delivery.endpoint_id <> ALL(CAST(:saturated AS bigint[]))
        ORDER BY delivery.next_attempt_at
        LIMIT :limit
        FOR UPDATE OF delivery SKIP LOCKED
    ), ranked AS (
        SELECT id, endpoint_id, row_number() OVER (
            PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS n
        FROM locked
    ), busy AS (
        SELECT * FROM unnest(CAST(:busy_ids AS bigint[]), CAST(:busy_counts AS int[]))
            AS busy(endpoint_id, attempts)
    )
    UPDATE hooks.delivery AS delivery
    SET attempt_count = delivery.attempt_count + 1, lease = :lease, next_attempt_at = :lease_until
    FROM ranked
    JOIN hooks.endpoint AS endpoint ON endpoint.id = ranked.endpoint_id
    LEFT JOIN busy ON busy.endpoint_id = ranked.endpoint_id
    WHERE delivery.id = ranked.id AND ranked.n + coalesce(busy.attempts, 0) <= :per_endpoint
    RETURNING delivery.id, delivery.endpoint_id, delivery.event_id, delivery.body,
              delivery.attempt_count, endpoint.url, endpoint.secret, endpoint.previous_secret,
              endpoint.previous_secret_expires_at
    """
)


@dataclass(frozen=True)
class Claim:
    """A delivery this dispatcher holds for one attempt."""

    delivery_id: int
    endpoint_id: int
    event_id: uuid.UUID
    body: str
    attempt: int  # 1 for the first attempt of its schedule
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    lease: uuid.UUID

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the rotated-out one while its overlap lasts."""
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            return [self.secret, self.previous_secret]
        return [self.secret]


@dataclass(frozen=True)
class Result:
    """What one attempt came to: an answer's status code, or an error without one."""

    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def claim(
    session: Session,
    *,
    now: datetime,
    limit: int,
    per_endpoint: int,
    busy: dict[int, int],
    lease_seconds: float,
) -> list[Claim]:
    """Claim up to `limit` due deliveries, leaving endpoints with `busy` attempts their due
    share of `per_endpoint`; committed by the caller."""
    lease = uuid.uuid4()
    rows = session.execute(
        _CLAIM,
        {
            "now": now,
            "limit": limit,
            "per_endpoint": per_endpoint,
            "saturated": [key for key, count in busy.items() if count >= per_endpoint],
            "busy_ids": list(busy),
            "busy_counts": list(busy.values()),
            "lease": lease,
            "lease_until": now + timedelta(seconds=lease_seconds),
        },
    ).all()
    return [
        Claim(
            delivery_id=row.id,
            endpoint_id=row.endpoint_id,
            event_id=row.event_id,
            body=row.body,
            attempt=row.attempt_count,
            url=row.url,
            secret=row.secret,
            previous_secret=row.previous_secret,
            previous_secret_expires_at=row.previous_secret_expires_at,
            lease=lease,
        )
        for row in rows
    ]


def record(
    session: Session,
    *,
    claim: Claim,
    result: Result,
    now: datetime,
    rng: random.Random,
    disable_after: timedelta,
) -> DeliveryStatus:
    """Store the attempt and schedule what follows it; the delivery's new status."""
    session.execute(
        insert(Attempt).values(
            delivery_id=claim.delivery_id,
            attempted_at=result.attempted_at,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            succeeded=result.succeeded,
            error=result.error,
        )
    )
    gone = result.status_code == 410
    wait = None
    if not result.succeeded and not gone:
        wait = schedule.next_wait(claim.attempt, retry_after=result.retry_after, rng=rng)
    if result.succeeded:
        status = DeliveryStatus.SUCCEEDED
    else:
        status = DeliveryStatus.FAILED if wait is None else DeliveryStatus.PENDING
    session.execute(
        update(Delivery)
        .where(Delivery.id == claim.delivery_id, Delivery.lease == claim.lease)
        .values(
            status=status.value,
            next_attempt_at=None if wait is None else now + timedelta(seconds=wait),
            lease=None,
            last_status_code=result.status_code,
            last_attempt_at=result.attempted_at,
        )
    )
    _judge_endpoint(session, claim.endpoint_id, result, now=now, disable_after=disable_after)
    return status


def _judge_endpoint(
    session: Session, endpoint_id: int, result: Result, *, now: datetime, disable_after: timedelta
) -> None:
    """A success clears the endpoint's failures; a 410, or failing since `disable_after` ago,
    disables it."""
    endpoint = update(Endpoint).where(Endpoint.id == endpoint_id)
    if result.succeeded:
        session.execute(
            endpoint.where(Endpoint.failing_since.is_not(None)).values(failing_since=None)
        )
        return
    session.execute(endpoint.where(Endpoint.failing_since.is_(None)).values(failing_since=now))
    disabled = endpoint.where(Endpoint.status == EndpointStatus.ACTIVE.value)
    if result.status_code == 410:
        disabled = disabled.values(disabled_reason=DisabledReason.GONE.value)
    else:
        disabled = disabled.where(Endpoint.failing_since <= now - disable_after).values(
            disabled_reason=DisabledReason.FAILING.value
        )
    session.execute(disabled.values(status=EndpointStatus.DISABLED.value, updated_at=func.now()))
