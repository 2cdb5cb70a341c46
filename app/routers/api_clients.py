import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status

from app.core.auth import AdminDep, PrincipalCache
from app.core.db import SessionDep
from app.core.openapi import problems
from app.core.webhook_targets import check_webhook_target
from app.routers.params import Cursor, Limit
from app.schemas.api_client import (
    ApiClientCreate,
    ApiClientCreated,
    ApiClientDetail,
    ApiClientOut,
    ApiClientRotated,
    KeyRotation,
    SlotsTransferred,
    SlotTransfer,
    WebhookSecretRotated,
)
from app.schemas.common import Page
from app.schemas.webhook import DeliveryOut, DeliveryStatus, WebhookHealth
from app.services.directory import api_clients, client_keys, slot_transfer, webhook_secrets
from app.services.webhooks import admin as webhook_admin

router = APIRouter(prefix="/v1/clients", tags=["clients"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_client(
    body: ApiClientCreate,
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    response: Response,
) -> ApiClientCreated:
    if body.webhook_url is not None:
        await check_webhook_target(
            str(body.webhook_url),
            allow_private=request.app.state.settings.webhook_allow_private_targets,
            location="body.webhook_url",
        )
    response.headers["Cache-Control"] = "no-store"
    return await api_clients.create_client(session, admin, body)


@router.get("")
async def list_clients(
    session: SessionDep, admin: AdminDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ApiClientOut]:
    items, next_cursor = await api_clients.list_clients(session, cursor, limit)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{client_id}")
async def show_client(
    client_id: uuid.UUID, session: SessionDep, admin: AdminDep
) -> ApiClientDetail:
    """The client, how many of its slots still to come are free, held and booked, and its
    webhook's health (null without a webhook URL)."""
    return await api_clients.show_client(session, client_id)


@router.delete("/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_client(
    client_id: uuid.UUID, request: Request, session: SessionDep, admin: AdminDep
) -> Response:
    await api_clients.revoke_client(session, admin, client_id)
    cache: PrincipalCache = request.app.state.principal_cache
    cache.forget_client(client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{client_id}/rotate-key", responses=problems(409))
async def rotate_key(
    client_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    admin: AdminDep,
    response: Response,
    body: Annotated[KeyRotation | None, Body()] = None,
) -> ApiClientRotated:
    """A new key for the same client, shown once; the previous one after `grace_seconds`."""
    response.headers["Cache-Control"] = "no-store"
    rotated = await client_keys.rotate_key(session, admin, client_id, body or KeyRotation())
    cache: PrincipalCache = request.app.state.principal_cache
    cache.forget_client(client_id)
    return rotated


@router.post("/{client_id}/webhook-secret", responses=problems(409))
async def rotate_webhook_secret(
    client_id: uuid.UUID, session: SessionDep, admin: AdminDep, response: Response
) -> WebhookSecretRotated:
    """A new webhook signing secret, shown once; for 24 h deliveries are signed with both."""
    response.headers["Cache-Control"] = "no-store"
    return await webhook_secrets.rotate_webhook_secret(session, admin, client_id)


@router.post("/{client_id}/transfer-slots", responses=problems(409))
async def transfer_slots(
    client_id: uuid.UUID, body: SlotTransfer, session: SessionDep, admin: AdminDep
) -> SlotsTransferred:
    """Hand every slot of this practice software to another one (a practice changes software)."""
    return await slot_transfer.transfer_slots(session, admin, client_id, body.to_client_id)


@router.get("/{client_id}/deliveries")
async def list_deliveries(
    client_id: uuid.UUID,
    session: SessionDep,
    admin: AdminDep,
    delivery_status: Annotated[
        DeliveryStatus | None, Query(alias="status", description="only this status")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryOut]:
    """The client's webhook deliveries still kept (see the retention in the README), newest
    first: attempts, last status code and error, next attempt."""
    items, next_cursor = await webhook_admin.list_deliveries(
        session, client_id, delivery_status, cursor, limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.post("/{client_id}/webhook/enable", responses=problems(409))
async def enable_webhook(
    client_id: uuid.UUID, session: SessionDep, admin: AdminDep
) -> WebhookHealth:
    """Deliver to the endpoint again after it answered 410 Gone (no-op if it is not disabled;
    409 without a webhook URL). Deliveries it failed stay failed: replay them."""
    return await webhook_admin.enable_webhook(session, admin, client_id)
