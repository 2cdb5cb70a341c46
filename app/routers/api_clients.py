import uuid

from fastapi import APIRouter, Request, Response, status

from app.core.auth import AdminDep, PrincipalCache
from app.core.db import SessionDep
from app.core.webhook_targets import check_webhook_target
from app.routers.params import Cursor, Limit
from app.schemas.api_client import ApiClientCreate, ApiClientCreated, ApiClientOut
from app.schemas.common import Page
from app.services.directory import api_clients

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


@router.delete("/{client_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_client(
    client_id: uuid.UUID, request: Request, session: SessionDep, admin: AdminDep
) -> Response:
    await api_clients.revoke_client(session, admin, client_id)
    cache: PrincipalCache = request.app.state.principal_cache
    cache.forget_client(client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
