"""Test data for the hooks service: keyword-only helpers with sensible defaults."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.hooks import messages
from services.hooks.models import Attempt, Delivery, Endpoint
from shared.contracts.events import FieldChange, TaskEvent, TaskEventType
from tests.events import create_snapshot, create_task_event


def create_event(
    *,
    event_type: TaskEventType = TaskEventType.CREATED,
    task_id: int = 1,
    version: int = 1,
    changes: dict[str, tuple[Any, Any]] | None = None,
) -> TaskEvent:
    """A task event; `changes` maps a field to its (old, new) JSON values."""
    return create_task_event(
        task=create_snapshot(task_id=task_id, version=version),
        event_type=event_type,
        changes={
            name: FieldChange(old=old, new=new) for name, (old, new) in (changes or {}).items()
        },
    )


def create_endpoint(
    engine: Engine,
    *,
    url: str,
    event_types: list[str] | None = None,
    status: str = "active",
) -> Endpoint:
    """A committed endpoint with a fresh secret."""
    with Session(engine, expire_on_commit=False) as session:
        endpoint = Endpoint(
            url=url,
            event_types=event_types or [event_type.value for event_type in TaskEventType],
            status=status,
            secret=messages.new_secret(),
        )
        session.add(endpoint)
        session.commit()
        return endpoint


def create_delivery(
    engine: Engine,
    *,
    endpoint: Endpoint,
    event: TaskEvent | None = None,
    next_attempt_at: datetime | None = None,
) -> Delivery:
    """A committed pending delivery of `event` (a new one by default), due at once."""
    event = event or create_event()
    with Session(engine, expire_on_commit=False) as session:
        delivery = Delivery(
            endpoint_id=endpoint.id,
            event_id=event.event_id,
            event_type=event.event_type.value,
            body=messages.event_body(event),
            next_attempt_at=next_attempt_at or datetime.now(UTC),
        )
        session.add(delivery)
        session.commit()
        return delivery


def deliveries(engine: Engine) -> list[Delivery]:
    """Every committed delivery, oldest first."""
    with Session(engine) as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def attempts(engine: Engine) -> list[Attempt]:
    with Session(engine) as session:
        return list(session.scalars(select(Attempt).order_by(Attempt.id)))


def endpoint_of(engine: Engine, endpoint_id: int) -> Endpoint:
    with Session(engine) as session:
        endpoint = session.get(Endpoint, endpoint_id)
        assert endpoint is not None
        return endpoint
