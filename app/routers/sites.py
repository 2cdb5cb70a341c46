import uuid

from fastapi import APIRouter, Response, status

from app.core.auth import AdminDep
from app.core.db import SessionDep
from app.routers.params import Cursor, Limit
from app.schemas.common import Page
from app.schemas.site import SiteCreate, SiteOut, SiteUpdate
from app.services.directory import sites

router = APIRouter(prefix="/v1/sites", tags=["sites"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_site(body: SiteCreate, session: SessionDep, admin: AdminDep) -> SiteOut:
    return await sites.create_site(session, admin, body)


@router.get("")
async def list_sites(
    session: SessionDep,
    admin: AdminDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    territory_id: uuid.UUID | None = None,
    active: bool | None = None,
) -> Page[SiteOut]:
    items, next_cursor = await sites.list_sites(
        session, cursor, limit, territory_id=territory_id, active=active
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{site_id}")
async def get_site(site_id: uuid.UUID, session: SessionDep, admin: AdminDep) -> SiteOut:
    return await sites.get_site_out(session, site_id)


@router.patch("/{site_id}")
async def update_site(
    site_id: uuid.UUID, body: SiteUpdate, session: SessionDep, admin: AdminDep
) -> SiteOut:
    return await sites.update_site(session, admin, site_id, body)


@router.delete("/{site_id}", status_code=status.HTTP_204_NO_CONTENT)
async def deactivate_site(site_id: uuid.UUID, session: SessionDep, admin: AdminDep) -> Response:
    await sites.deactivate_site(session, admin, site_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
