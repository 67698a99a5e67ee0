"""Use cases of the hooks API; each one transaction, committed here.

Deliveries are made by the consumer (`consumer.py`, from task events) and sent by the
dispatcher (`dispatcher.py`); here admins manage endpoints and act on deliveries.
"""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.orm import Session

from services.hooks import messages, repository
from services.hooks.config import HooksSettings
from services.hooks.models import (
    Delivery,
    DeliveryStatus,
    DisabledReason,
    Endpoint,
    EndpointStatus,
)
from services.hooks.schemas import (
    AttemptRead,
    DeliveryDetail,
    DeliveryRead,
    EndpointCreate,
    EndpointRead,
    EndpointUpdate,
    EndpointWithSecret,
)
from services.hooks.targets import AllowList, TargetRefusedError, check_url
from shared.core.errors import ConflictError, InvalidFieldError, NotFoundError
from shared.web.pagination import Keyset, Page, PageParams, paginate


class EndpointNotFoundError(NotFoundError):
    message = "No webhook endpoint has this id."


class DeliveryNotFoundError(NotFoundError):
    message = "No delivery has this id."


class EndpointDisabledError(ConflictError):
    message = "The endpoint is disabled; enable it first (PATCH with `disabled: false`)."


async def check_target(url: str, settings: HooksSettings) -> None:
    """422 unless deliveries may go to `url` (docs/webhooks.md, "Which URLs")."""
    try:
        await check_url(
            url,
            AllowList(settings.hooks_allowed_targets),
            https_only=settings.environment == "production",
        )
    except TargetRefusedError as exc:
        raise InvalidFieldError(field="url", message=str(exc)) from exc


def _endpoint(session: Session, endpoint_id: int, *, lock: bool = False) -> Endpoint:
    endpoint = repository.get_endpoint(session, endpoint_id, lock=lock)
    if endpoint is None:
        raise EndpointNotFoundError()
    return endpoint


def _with_secret(endpoint: Endpoint) -> EndpointWithSecret:
    return EndpointWithSecret.model_validate(endpoint, from_attributes=True)


def create_endpoint(session: Session, *, data: EndpointCreate) -> EndpointWithSecret:
    """Register an endpoint with a new secret (answered this once)."""
    endpoint = Endpoint(
        url=data.url,
        description=data.description,
        event_types=sorted({event_type.value for event_type in data.event_types}),
        secret=messages.new_secret(),
    )
    session.add(endpoint)
    session.flush()
    session.refresh(endpoint)
    result = _with_secret(endpoint)
    session.commit()
    return result


def list_endpoints(session: Session, *, params: PageParams) -> Page[EndpointRead]:
    """Every endpoint, oldest first."""
    keyset = Keyset(repository.ENDPOINT_SORT_KEY, descending=False, scope="hooks:endpoints")
    return paginate(
        session,
        repository.endpoints_query(),
        keyset=keyset,
        params=params,
        page_type=Page[EndpointRead],
    )


def get_endpoint(session: Session, *, endpoint_id: int) -> EndpointRead:
    return EndpointRead.model_validate(_endpoint(session, endpoint_id), from_attributes=True)


def update_endpoint(session: Session, *, endpoint_id: int, data: EndpointUpdate) -> EndpointRead:
    """Change the given fields; enabling an endpoint forgets its failures."""
    endpoint = _endpoint(session, endpoint_id, lock=True)
    if data.url is not None:
        endpoint.url = data.url
    if data.description is not None:
        endpoint.description = data.description
    if data.event_types is not None:
        endpoint.event_types = sorted({event_type.value for event_type in data.event_types})
    if data.disabled is True and endpoint.status == EndpointStatus.ACTIVE:
        endpoint.status = EndpointStatus.DISABLED.value
        endpoint.disabled_reason = DisabledReason.MANUAL.value
    elif data.disabled is False and endpoint.status == EndpointStatus.DISABLED:
        endpoint.status = EndpointStatus.ACTIVE.value
        endpoint.disabled_reason = None
        endpoint.failing_since = None
        repository.wake_dispatchers(session)  # its pending deliveries go on
    endpoint.updated_at = func.now()
    session.flush()
    session.refresh(endpoint)
    result = EndpointRead.model_validate(endpoint, from_attributes=True)
    session.commit()
    return result


def delete_endpoint(session: Session, *, endpoint_id: int) -> None:
    """Remove the endpoint with its deliveries and attempts."""
    session.delete(_endpoint(session, endpoint_id, lock=True))
    session.commit()


def rotate_secret(session: Session, *, endpoint_id: int, overlap: timedelta) -> EndpointWithSecret:
    """A new secret; the current one still signs too, for `overlap`."""
    endpoint = _endpoint(session, endpoint_id, lock=True)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = datetime.now(UTC) + overlap
    endpoint.secret = messages.new_secret()
    endpoint.updated_at = func.now()
    session.flush()
    session.refresh(endpoint)
    result = _with_secret(endpoint)
    session.commit()
    return result


def ping(session: Session, *, endpoint_id: int) -> DeliveryRead:
    """A test delivery (`type: ping`) to the endpoint, sent at once."""
    endpoint = _endpoint(session, endpoint_id)
    if endpoint.status != EndpointStatus.ACTIVE:
        raise EndpointDisabledError()
    now = datetime.now(UTC)
    delivery = Delivery(
        endpoint_id=endpoint.id,
        event_id=uuid.uuid4(),
        event_type=messages.PING,
        body=messages.ping_body(endpoint_id=endpoint.id, at=now),
        next_attempt_at=now,
    )
    session.add(delivery)
    repository.wake_dispatchers(session)
    session.flush()
    session.refresh(delivery)
    result = DeliveryRead.model_validate(delivery, from_attributes=True)
    session.commit()
    return result


def list_deliveries(
    session: Session, *, endpoint_id: int, status: DeliveryStatus | None, params: PageParams
) -> Page[DeliveryRead]:
    """An endpoint's deliveries, newest first."""
    _endpoint(session, endpoint_id)
    keyset = Keyset(
        repository.DELIVERY_SORT_KEY, descending=True, scope=f"hooks:{endpoint_id}:{status}"
    )
    return paginate(
        session,
        repository.deliveries_query(endpoint_id=endpoint_id, status=status),
        keyset=keyset,
        params=params,
        page_type=Page[DeliveryRead],
    )


def get_delivery(session: Session, *, delivery_id: int) -> DeliveryDetail:
    """A delivery with its attempts."""
    delivery = repository.get_delivery(session, delivery_id)
    if delivery is None:
        raise DeliveryNotFoundError()
    attempts = [
        AttemptRead.model_validate(attempt, from_attributes=True)
        for attempt in repository.attempts_of(session, delivery_id)
    ]
    read = DeliveryRead.model_validate(delivery, from_attributes=True)
    return DeliveryDetail(**read.model_dump(), attempts=attempts)


def redeliver(session: Session, *, delivery_id: int) -> DeliveryRead:
    """Send the delivery again, now, with a fresh schedule (and the same `webhook-id`)."""
    delivery = repository.get_delivery(session, delivery_id)
    if delivery is None:
        raise DeliveryNotFoundError()
    if _endpoint(session, delivery.endpoint_id).status != EndpointStatus.ACTIVE:
        raise EndpointDisabledError()
    repository.schedule_again(session, endpoint_id=delivery.endpoint_id, delivery_id=delivery.id)
    session.flush()
    session.refresh(delivery)
    result = DeliveryRead.model_validate(delivery, from_attributes=True)
    session.commit()
    return result


def recover(session: Session, *, endpoint_id: int, since: datetime) -> int:
    """Send again every failed delivery of the endpoint made since `since`; how many."""
    if _endpoint(session, endpoint_id).status != EndpointStatus.ACTIVE:
        raise EndpointDisabledError()
    count = repository.schedule_again(session, endpoint_id=endpoint_id, since=since)
    session.commit()
    return count
