"""The dispatcher's queries: claim due deliveries, record what an attempt came to. Never commits.

A claim locks due rows with `FOR UPDATE SKIP LOCKED` (another dispatcher skips them instead of
waiting), takes at most as many per endpoint as the endpoint has free slots here, and moves
their `next_attempt_at` past the attempt's timeout under a fresh `lease`: once the claim
commits, no other dispatcher sees them due until the lease has run out. Only the lease's holder
records the outcome, so two dispatchers never send one attempt twice.
"""

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, text, update
from sqlalchemy.orm import Session

from services.hooks import schedule
from services.hooks.models import (
    Attempt,
    DeliveryStatus,
    DisabledReason,
    Endpoint,
    EndpointStatus,
)
from shared.core.db import as_columns, insert_columns, table_of

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


_SETTLE = text(
    """
    UPDATE hooks.delivery AS delivery
    SET status = outcome.status, next_attempt_at = outcome.next_attempt_at, lease = NULL,
        last_status_code = outcome.status_code, last_attempt_at = outcome.attempted_at
    FROM unnest(CAST(:ids AS bigint[]), CAST(:leases AS uuid[]), CAST(:statuses AS text[]),
                CAST(:next_attempts AS timestamptz[]), CAST(:codes AS int[]),
                CAST(:attempted AS timestamptz[]))
        AS outcome(id, lease, status, next_attempt_at, status_code, attempted_at)
    WHERE delivery.id = outcome.id AND delivery.lease = outcome.lease
    """
)


def record(
    session: Session,
    *,
    outcomes: Sequence[tuple[Claim, Result]],
    now: datetime,
    rng: random.Random,
    disable_after: timedelta,
) -> list[DeliveryStatus]:
    """Store the attempts and schedule what follows each, in five statements whatever their
    number; each delivery's new status."""
    statuses, next_attempts = [], []
    for claim, result in outcomes:
        wait = None
        if not result.succeeded and result.status_code != 410:
            wait = schedule.next_wait(claim.attempt, retry_after=result.retry_after, rng=rng)
        if result.succeeded:
            statuses.append(DeliveryStatus.SUCCEEDED)
        else:
            statuses.append(DeliveryStatus.FAILED if wait is None else DeliveryStatus.PENDING)
        next_attempts.append(None if wait is None else now + timedelta(seconds=wait))
    attempts = [
        {
            "delivery_id": claim.delivery_id,
            "attempted_at": result.attempted_at,
            "status_code": result.status_code,
            "duration_ms": result.duration_ms,
            "succeeded": result.succeeded,
            "error": result.error,
        }
        for claim, result in outcomes
    ]
    session.execute(
        insert_columns(table_of(Attempt), ATTEMPT_COLUMNS), as_columns(attempts, ATTEMPT_COLUMNS)
    )
    session.execute(
        _SETTLE,
        {
            "ids": [claim.delivery_id for claim, _ in outcomes],
            "leases": [str(claim.lease) for claim, _ in outcomes],
            "statuses": [status.value for status in statuses],
            "next_attempts": next_attempts,
            "codes": [result.status_code for _, result in outcomes],
            "attempted": [result.attempted_at for _, result in outcomes],
        },
    )
    _judge_endpoints(session, outcomes, now=now, disable_after=disable_after)
    return statuses


ATTEMPT_COLUMNS = [
    "delivery_id",
    "attempted_at",
    "status_code",
    "duration_ms",
    "succeeded",
    "error",
]


def _judge_endpoints(
    session: Session,
    outcomes: Sequence[tuple[Claim, Result]],
    *,
    now: datetime,
    disable_after: timedelta,
) -> None:
    """A success clears its endpoint's failures; a 410, or failing since `disable_after` ago
    without any success, disables it."""
    working = {claim.endpoint_id for claim, result in outcomes if result.succeeded}
    failing = {claim.endpoint_id for claim, result in outcomes if not result.succeeded} - working
    gone = {claim.endpoint_id for claim, result in outcomes if result.status_code == 410}
    if working:
        session.execute(
            update(Endpoint)
            .where(Endpoint.id.in_(working), Endpoint.failing_since.is_not(None))
            .values(failing_since=None)
        )
    if not failing and not gone:
        return
    session.execute(
        update(Endpoint)
        .where(Endpoint.id.in_(failing | gone), Endpoint.failing_since.is_(None))
        .values(failing_since=now)
    )
    active = update(Endpoint).where(Endpoint.status == EndpointStatus.ACTIVE.value)
    for reason, endpoint_ids, condition in (
        (DisabledReason.GONE, gone, Endpoint.id.in_(gone)),
        (
            DisabledReason.FAILING,
            failing,
            Endpoint.id.in_(failing) & (Endpoint.failing_since <= now - disable_after),
        ),
    ):
        if endpoint_ids:
            session.execute(
                active.where(condition).values(
                    status=EndpointStatus.DISABLED.value,
                    disabled_reason=reason.value,
                    updated_at=func.now(),
                )
            )
