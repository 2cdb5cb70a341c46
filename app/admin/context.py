"""What every page shows around its content: the territory being looked at, and the others."""

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Territory


@dataclass(frozen=True)
class TerritoryView:
    id: uuid.UUID
    name: str
    timezone: str


async def territory_context(
    session: AsyncSession, requested: str | None
) -> tuple[TerritoryView | None, list[TerritoryView]]:
    """The requested territory (`?territoire=`), else the first active one by name; and all."""
    rows = (
        await session.execute(
            select(Territory.id, Territory.name, Territory.timezone, Territory.active).order_by(
                Territory.active.desc(), Territory.name, Territory.id
            )
        )
    ).all()
    territories = [TerritoryView(r.id, r.name, r.timezone) for r in rows]
    chosen = next((t for t in territories if str(t.id) == requested), None)
    return chosen or (territories[0] if territories else None), territories


def url(path: str, **params: object) -> str:
    """`path` with the query parameters that are set."""
    query = urlencode({k: str(v) for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path
