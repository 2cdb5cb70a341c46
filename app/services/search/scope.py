"""The regulator's territories as a search sees them (active ones only), cached per process."""

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal


@dataclass(frozen=True)
class TerritoryScope:
    """What the search needs of one of the regulator's territories."""

    id: uuid.UUID
    departement: str
    timezone: str
    radius_km: float | None
    enlargement_km: float | None


_TERRITORIES_SQL = text(
    """
    SELECT id, departement, timezone, radius_km, enlargement_km
    FROM territories WHERE id = ANY(CAST(:ids AS uuid[])) AND active
    ORDER BY id
    """
)

# Territory settings change rarely: each process keeps them as long as it trusts an API key
# (API_KEY_CACHE_SECONDS), which saves a query a search.
_territory_cache: dict[frozenset[uuid.UUID], tuple[float, list[TerritoryScope]]] = {}


def territories_in(
    territories: Mapping[uuid.UUID, Any], principal: Principal
) -> list[TerritoryScope]:
    """`territories_of` from a directory in memory (the search index's): same rows, same order."""
    found = [territories.get(t) for t in principal.territory_ids]
    return sorted(
        (
            TerritoryScope(t.id, t.departement, t.timezone, t.radius_km, t.enlargement_km)
            for t in found
            if t is not None and t.active
        ),
        key=lambda t: t.id,
    )


async def territories_of(
    session: AsyncSession, principal: Principal, ttl: float
) -> list[TerritoryScope]:
    if not principal.territory_ids:
        return []
    cached = _territory_cache.get(principal.territory_ids)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    rows = await session.execute(_TERRITORIES_SQL, {"ids": list(principal.territory_ids)})
    scopes = [TerritoryScope(*row) for row in rows]
    if ttl > 0:
        if len(_territory_cache) > 10_000:
            _territory_cache.clear()
        _territory_cache[principal.territory_ids] = (time.monotonic() + ttl, scopes)
    return scopes
