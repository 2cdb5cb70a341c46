"""CPTS territories (admin)."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.constraints import add_unique
from app.core.errors import NotFound
from app.core.pagination import keyset, page
from app.models import Territory
from app.schemas.territory import TerritoryCreate, TerritoryOut, TerritoryUpdate
from app.services.audit import record as audit
from app.services.directory.radii import default_radius


def territory_out(territory: Territory) -> TerritoryOut:
    out = TerritoryOut.model_validate(territory)
    default = default_radius(territory.departement)
    if default is not None:
        out.default_radius_km = default.radius_km
        out.default_enlargement_km = default.enlargement_km
    return out


async def create_territory(
    session: AsyncSession, actor: Principal | None, data: TerritoryCreate
) -> Territory:
    """Create a CPTS; its FINESS is unique."""
    values = data.model_dump(exclude_none=True)
    territory = Territory(**values)
    await add_unique(
        session, territory, f"a territory with FINESS {data.finess} already exists", "body.finess"
    )
    await session.refresh(territory)
    await audit.record(
        session, actor, "territory.create", "territory", territory.id, territory_id=territory.id
    )
    return territory


async def get_territory(session: AsyncSession, territory_id: uuid.UUID) -> Territory:
    territory = await session.get(Territory, territory_id)
    if territory is None:
        raise NotFound(f"no territory {territory_id}")
    return territory


async def list_territories(
    session: AsyncSession, cursor: str | None, limit: int
) -> tuple[list[Territory], str | None]:
    query = keyset(select(Territory), Territory.created_at, Territory.id, cursor, limit)
    rows = (await session.scalars(query)).all()
    return page(rows, limit)


async def update_territory(
    session: AsyncSession, actor: Principal | None, territory_id: uuid.UUID, data: TerritoryUpdate
) -> Territory:
    territory = await get_territory(session, territory_id)
    changes = data.changes()
    for name, value in changes.items():
        setattr(territory, name, value)
    await session.flush()
    await session.refresh(territory)
    await audit.record(
        session,
        actor,
        "territory.update",
        "territory",
        territory.id,
        territory_id=territory.id,
        detail={"fields": sorted(changes)},
    )
    return territory
