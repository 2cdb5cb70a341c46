import uuid

from fastapi import APIRouter, status

from app.core.auth import AdminDep
from app.core.db import SessionDep
from app.core.openapi import problems
from app.routers.params import Cursor, Limit
from app.schemas.common import Page
from app.schemas.territory import TerritoryCreate, TerritoryOut, TerritoryUpdate
from app.services.directory import territories

router = APIRouter(prefix="/v1/territories", tags=["territories"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=problems(409))
async def create_territory(
    body: TerritoryCreate, session: SessionDep, admin: AdminDep
) -> TerritoryOut:
    return territories.territory_out(await territories.create_territory(session, admin, body))


@router.get("")
async def list_territories(
    session: SessionDep, admin: AdminDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[TerritoryOut]:
    items, next_cursor = await territories.list_territories(session, cursor, limit)
    return Page(items=[territories.territory_out(t) for t in items], next_cursor=next_cursor)


@router.get("/{territory_id}")
async def get_territory(
    territory_id: uuid.UUID, session: SessionDep, admin: AdminDep
) -> TerritoryOut:
    return territories.territory_out(await territories.get_territory(session, territory_id))


@router.patch("/{territory_id}")
async def update_territory(
    territory_id: uuid.UUID, body: TerritoryUpdate, session: SessionDep, admin: AdminDep
) -> TerritoryOut:
    territory = await territories.update_territory(session, admin, territory_id, body)
    return territories.territory_out(territory)
