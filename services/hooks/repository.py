"""Queries of the `hooks` schema for the API and the consumer. Never commits."""

from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Text, Uuid, bindparam, select, text, update
from sqlalchemy.orm import Session

from services.hooks.models import CHANNEL, Attempt, Delivery, DeliveryStatus, Endpoint
from shared.core.db import table_of
from shared.web.pagination import ListQuery, filtered

_WAKE = text(f"SELECT pg_notify('{CHANNEL}', '')")
# The consumer's batch in one statement (`ClaimingStatement`): the events' ids claimed, a row
# per (active endpoint that wants a claimed event, event), and the dispatchers woken at commit
# if any was added. `woken` is joined so it runs; it has no rows when nothing was added.
CLAIM_AND_FAN_OUT = (
    text(
        f"""
    WITH event AS (
        SELECT * FROM unnest(CAST(:event_id AS uuid[]), CAST(:event_type AS text[]),
                             CAST(:body AS text[])) AS event(event_id, event_type, body)
    ), claimed AS (
        INSERT INTO hooks.processed_event (event_id)
        SELECT event_id FROM event ORDER BY event_id
        ON CONFLICT DO NOTHING
        RETURNING event_id
    ), added AS (
        INSERT INTO hooks.delivery (endpoint_id, event_id, event_type, body, next_attempt_at)
        SELECT endpoint.id, event.event_id, event.event_type, event.body, now()
        FROM event JOIN hooks.endpoint AS endpoint
          ON endpoint.status = 'active' AND event.event_type = ANY(endpoint.event_types)
        WHERE event.event_id IN (SELECT event_id FROM claimed)
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
        RETURNING 1
    ), woken AS (
        SELECT pg_notify('{CHANNEL}', '') WHERE EXISTS (SELECT FROM added)
    )
    SELECT claimed.event_id FROM claimed LEFT JOIN woken ON true
    """
    )
    .bindparams(
        bindparam("event_id", type_=ARRAY(Text)),
        bindparam("event_type", type_=ARRAY(Text)),
        bindparam("body", type_=ARRAY(Text)),
    )
    .columns(event_id=Uuid)
)


def wake_dispatchers(session: Session) -> None:
    """NOTIFY the dispatchers, at commit, that deliveries are due."""
    session.execute(_WAKE)


def get_endpoint(session: Session, endpoint_id: int, *, lock: bool = False) -> Endpoint | None:
    """The endpoint, locked for update if asked."""
    query = select(Endpoint).where(Endpoint.id == endpoint_id)
    return session.scalars(query.with_for_update() if lock else query).first()


def get_delivery(session: Session, delivery_id: int) -> Delivery | None:
    return session.get(Delivery, delivery_id)


def attempts_of(session: Session, delivery_id: int) -> list[Attempt]:
    """A delivery's attempts, first first."""
    query = select(Attempt).where(Attempt.delivery_id == delivery_id).order_by(Attempt.id)
    return list(session.scalars(query))


def endpoints_query() -> ListQuery:
    return filtered(table_of(Endpoint), period=None, equal={})


def deliveries_query(*, endpoint_id: int, status: DeliveryStatus | None) -> ListQuery:
    equal = {"endpoint_id": endpoint_id, "status": None if status is None else status.value}
    return filtered(table_of(Delivery), period=None, equal=equal)


ENDPOINT_SORT_KEY: list[ColumnElement[Any]] = [Endpoint.id.expression]
DELIVERY_SORT_KEY: list[ColumnElement[Any]] = [Delivery.id.expression]  # newest first


def schedule_again(
    session: Session,
    *,
    endpoint_id: int,
    since: datetime | None = None,
    delivery_id: int | None = None,
) -> int:
    """Make failed deliveries (or the one `delivery_id`, whatever its state) due now, with a
    fresh schedule; how many."""
    statement = update(Delivery).where(Delivery.endpoint_id == endpoint_id)
    if delivery_id is not None:
        statement = statement.where(Delivery.id == delivery_id)
    else:
        statement = statement.where(
            Delivery.status == DeliveryStatus.FAILED.value, Delivery.created_at >= since
        )
    statement = statement.values(
        status=DeliveryStatus.PENDING.value,
        attempt_count=0,
        next_attempt_at=text("now()"),
        lease=None,
    )
    count = int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
    if count:
        wake_dispatchers(session)
    return count
