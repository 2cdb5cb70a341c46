"""The one statement of the FHIR Slot search: free, offered slots of some practitioners.

Rules: a slot is returned when it is free (`slots.rules.free`: a live hold is not free) and
offered in the SAS client's territories (`site_offered`, `professional_offered`,
`source_offered`), its practitioner's RPPS is asked, and it starts inside the window. Each row
carries what its resources need (practitioner, site and commune, the site's CPTS), so the
Bundle is built from one round trip. The practitioners are found by their unique RPPS, then
their slots by `ix_slots_professional_open_start`.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.slots.rules import free, professional_offered, site_offered, source_offered

SLOT_SEARCH = text(
    f"""
    SELECT s.id, s.start_at, s.end_at, s.modality, s.labels, s.booking_url,
           p.id AS professional_id, p.rpps, p.family_name, p.given_name, p.specialty,
           si.id AS site_id, si.name AS site_name, si.address, si.postcode, si.timezone,
           coalesce(c.name, si.insee_code) AS city,
           t.id AS territory_id, t.name AS territory_name, t.finess, t.phone
    FROM professionals p
    JOIN slots s ON s.professional_id = p.id
    JOIN sites si ON si.id = s.site_id
    JOIN territories t ON t.id = si.territory_id
    LEFT JOIN communes c ON c.insee_code = si.insee_code
    WHERE p.rpps = ANY(CAST(:rpps AS text[])) AND {professional_offered("p")}
      AND s.start_at >= :start AND s.start_at < :end
      AND {free("s")}
      AND {site_offered("si", ":territories")} AND {source_offered("s")}
    ORDER BY s.start_at, s.id
    """  # noqa: S608 (fragments of slots.rules, constants only)
)

ZONES = text("SELECT DISTINCT timezone FROM territories WHERE id = ANY(CAST(:ids AS uuid[]))")


@dataclass(frozen=True)
class SlotRow:
    id: uuid.UUID
    start_at: datetime
    end_at: datetime
    modality: str
    labels: list[str]
    booking_url: str | None
    professional_id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str
    specialty: str | None
    site_id: uuid.UUID
    site_name: str
    address: str
    postcode: str
    timezone: str
    city: str
    territory_id: uuid.UUID
    territory_name: str
    finess: str
    phone: str | None


async def free_slots(
    session: AsyncSession,
    rpps: tuple[str, ...],
    start: datetime,
    end: datetime,
    territory_ids: frozenset[uuid.UUID],
) -> list[SlotRow]:
    """The free slots offered in `territory_ids` of practitioners `rpps` starting in the window."""
    if not rpps or not territory_ids:
        return []
    params: dict[str, Any] = {
        "rpps": list(rpps),
        "start": start,
        "end": end,
        "territories": list(territory_ids),
    }
    rows = (await session.execute(SLOT_SEARCH, params)).all()
    return [SlotRow(*row) for row in rows]


async def territory_zone(session: AsyncSession, territory_ids: frozenset[uuid.UUID]) -> str:
    """The zone a date without an offset is read in: the territories' one, if they share one.

    A SAS client spanning territories of different zones (mainland and overseas) gets
    Europe/Paris, the zone the certification kit writes its local times in.
    """
    zones = (await session.scalars(ZONES, {"ids": list(territory_ids)})).all()
    return zones[0] if len(zones) == 1 else "Europe/Paris"
