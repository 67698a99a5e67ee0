"""Thin HTTP endpoints of the hooks service: admins only (docs/webhooks.md says why)."""

from datetime import timedelta

from fastapi import APIRouter, Response, status

from services.hooks import service
from services.hooks.deps import SettingsDep
from services.hooks.models import DeliveryStatus
from services.hooks.schemas import (
    DeliveryDetail,
    DeliveryRead,
    EndpointCreate,
    EndpointRead,
    EndpointUpdate,
    EndpointWithSecret,
    Recovered,
    Recovery,
    SecretRotation,
)
from shared.core.db import DatabaseDep
from shared.web.ids import PathId
from shared.web.pagination import Page, PageDep
from shared.web.security import AdminUser

router = APIRouter(prefix="/hooks", tags=["hooks"])


@router.post(
    "/endpoints",
    operation_id="hooks_create_endpoint",
    status_code=status.HTTP_201_CREATED,
    response_model=EndpointWithSecret,
)
async def create_endpoint(
    _: AdminUser, database: DatabaseDep, settings: SettingsDep, data: EndpointCreate
) -> EndpointWithSecret:
    """Register a receiver; the answer holds its signing secret, shown this once."""
    await service.check_target(data.url, settings)
    return await database.run(service.create_endpoint, data=data)


@router.get("/endpoints", operation_id="hooks_list_endpoints", response_model=Page[EndpointRead])
async def list_endpoints(_: AdminUser, database: DatabaseDep, page: PageDep) -> Page[EndpointRead]:
    """Every endpoint, oldest first."""
    return await database.read(service.list_endpoints, params=page)


@router.get("/endpoints/{endpoint_id}", operation_id="hooks_get_endpoint")
async def get_endpoint(_: AdminUser, database: DatabaseDep, endpoint_id: PathId) -> EndpointRead:
    """One endpoint: its state, and why it is disabled if it is."""
    return await database.read(service.get_endpoint, endpoint_id=endpoint_id)


@router.patch("/endpoints/{endpoint_id}", operation_id="hooks_update_endpoint")
async def update_endpoint(
    _: AdminUser,
    database: DatabaseDep,
    settings: SettingsDep,
    endpoint_id: PathId,
    data: EndpointUpdate,
) -> EndpointRead:
    """Change an endpoint; `disabled: false` enables it again."""
    if data.url is not None:
        await service.check_target(data.url, settings)
    return await database.run(service.update_endpoint, endpoint_id=endpoint_id, data=data)


@router.delete(
    "/endpoints/{endpoint_id}",
    operation_id="hooks_delete_endpoint",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_endpoint(_: AdminUser, database: DatabaseDep, endpoint_id: PathId) -> Response:
    """Remove an endpoint, its deliveries and their attempts."""
    await database.run(service.delete_endpoint, endpoint_id=endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/endpoints/{endpoint_id}/rotate-secret", operation_id="hooks_rotate_secret")
async def rotate_secret(
    _: AdminUser,
    database: DatabaseDep,
    settings: SettingsDep,
    endpoint_id: PathId,
    data: SecretRotation | None = None,
) -> EndpointWithSecret:
    """A new secret, shown once; the old one still signs beside it for the overlap."""
    hours = settings.hooks_secret_overlap_hours
    if data is not None and data.overlap_hours is not None:
        hours = data.overlap_hours
    return await database.run(
        service.rotate_secret, endpoint_id=endpoint_id, overlap=timedelta(hours=hours)
    )


@router.post(
    "/endpoints/{endpoint_id}/ping",
    operation_id="hooks_ping",
    status_code=status.HTTP_202_ACCEPTED,
)
async def ping(_: AdminUser, database: DatabaseDep, endpoint_id: PathId) -> DeliveryRead:
    """Send a test delivery (`type: ping`) now; follow it at /hooks/deliveries/{id}."""
    return await database.run(service.ping, endpoint_id=endpoint_id)


@router.get(
    "/endpoints/{endpoint_id}/deliveries",
    operation_id="hooks_list_deliveries",
    response_model=Page[DeliveryRead],
)
async def list_deliveries(
    _: AdminUser,
    database: DatabaseDep,
    endpoint_id: PathId,
    page: PageDep,
    status: DeliveryStatus | None = None,
) -> Page[DeliveryRead]:
    """An endpoint's deliveries, newest first: state, last answer, next attempt."""
    return await database.read(
        service.list_deliveries, endpoint_id=endpoint_id, status=status, params=page
    )


@router.post("/endpoints/{endpoint_id}/recover", operation_id="hooks_recover")
async def recover(
    _: AdminUser, database: DatabaseDep, endpoint_id: PathId, data: Recovery
) -> Recovered:
    """Send again every failed delivery of events since `since`, with a fresh schedule."""
    count = await database.run(service.recover, endpoint_id=endpoint_id, since=data.since)
    return Recovered(deliveries=count)


@router.get("/deliveries/{delivery_id}", operation_id="hooks_get_delivery")
async def get_delivery(_: AdminUser, database: DatabaseDep, delivery_id: PathId) -> DeliveryDetail:
    """A delivery and each of its attempts (answer code, duration, error)."""
    return await database.read(service.get_delivery, delivery_id=delivery_id)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    operation_id="hooks_redeliver",
    status_code=status.HTTP_202_ACCEPTED,
)
async def redeliver(_: AdminUser, database: DatabaseDep, delivery_id: PathId) -> DeliveryRead:
    """Send a delivery again now (same `webhook-id`), with a fresh schedule."""
    return await database.run(service.redeliver, delivery_id=delivery_id)
