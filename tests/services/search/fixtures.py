"""Build a small world for search tests: territories, professionals and sites through the admin
API, slots straight into the table (as the slot intake would leave them)."""

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.schemas.search import SearchResult
from tests.conftest import MakeKey
from tests.factories import create_professional, create_site, create_territory

NANTES_LAT, NANTES_LON = 47.2184, -1.5536  # tests.factories.NANTES, the default patient

# A Tuesday morning in Paris (09:00 CET); the tests pass it as the search's `now`.
NOW = datetime.fromisoformat("2026-03-10T08:00:00+00:00")


def north_of(lat: float, lon: float, km: float) -> tuple[float, float]:
    """The point `km` kilometres due north (good to a few metres at these distances)."""
    return lat + km / 111.195, lon


def east_of(lat: float, lon: float, km: float) -> tuple[float, float]:
    return lat, lon + km / (111.195 * math.cos(math.radians(lat)))


@dataclass
class SearchWorld:
    client: httpx.AsyncClient
    admin: dict[str, str]
    session: AsyncSession
    make_key: MakeKey
    source_id: uuid.UUID | None = None
    _counter: int = 0

    async def territory(self, **fields: Any) -> uuid.UUID:
        return uuid.UUID((await create_territory(self.client, self.admin, **fields))["id"])

    async def professional(self, **fields: Any) -> dict[str, Any]:
        return await create_professional(self.client, self.admin, **fields)

    async def site(
        self,
        territory_id: uuid.UUID,
        km_north: float = 0.0,
        *pros: dict[str, Any],
        **fields: Any,
    ) -> dict[str, Any]:
        """A site `km_north` km north of Nantes centre (the default patient location)."""
        lat, lon = north_of(NANTES_LAT, NANTES_LON, km_north)
        values: dict[str, Any] = {"lat": lat, "lon": lon, **fields}
        return await create_site(
            self.client, self.admin, territory_id, [p["id"] for p in pros], **values
        )

    async def slot(
        self,
        professional: dict[str, Any],
        site: dict[str, Any],
        start: datetime | timedelta,
        minutes: int = 10,
        modality: str = "AMB",
        status: str = "free",
        hold_expires_at: datetime | None = None,
    ) -> uuid.UUID:
        """Insert a slot; `start` may be an offset from NOW."""
        if self.source_id is None:
            _, self.source_id = await self.make_key("practice_software")
        begin = NOW + start if isinstance(start, timedelta) else start
        self._counter += 1
        slot_id: uuid.UUID = (
            await self.session.execute(
                text(
                    """
                    INSERT INTO slots (source_client_id, external_id, professional_id, site_id,
                                       start_at, end_at, modality, status, hold_expires_at)
                    VALUES (:source, :external_id, :professional_id, :site_id, :start, :end,
                            :modality, :status, :hold_expires_at)
                    RETURNING id
                    """
                ),
                {
                    "source": self.source_id,
                    "external_id": f"ext-{uuid.uuid4().hex[:8]}-{self._counter}",
                    "professional_id": uuid.UUID(professional["id"]),
                    "site_id": uuid.UUID(site["id"]),
                    "start": begin,
                    "end": begin + timedelta(minutes=minutes),
                    "modality": modality,
                    "status": status,
                    "hold_expires_at": hold_expires_at,
                },
            )
        ).scalar_one()
        return slot_id

    async def regulator(self, *territory_ids: uuid.UUID) -> tuple[Principal, str]:
        """A regulator client of these territories: its principal and its API key."""
        key, client_id = await self.make_key("regulator", list(territory_ids))
        principal = Principal(
            client_id=client_id,
            name="regulator",
            role="regulator",
            territory_ids=frozenset(territory_ids),
        )
        return principal, key


def slot_ids(result: SearchResult) -> list[uuid.UUID]:
    """The candidates' slot ids in ranking order (best first)."""
    return [c.slot_id for c in result.candidates]
