"""A believable demo CPTS: real communes of Loire-Atlantique, invented professionals, SNP slots.

Loading it twice changes nothing but adding the slots of days not yet covered.
"""

import json
import random
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiClient, Professional, Site, Territory
from app.schemas.api_client import ApiClientCreate
from app.schemas.professional import ProfessionalCreate
from app.schemas.site import SiteCreate
from app.schemas.territory import TerritoryCreate
from app.services.directory import api_clients, professionals, sites, territories
from app.services.directory.centroids import set_centroids

DEMO_FILE = Path(__file__).resolve().parent / "data" / "demo_cpts.json"
DEMO_SOFTWARE_NAME = "Logiciel d'agenda (démo)"
SLOT_MINUTES = 20


def demo_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    return data


async def seed_demo(session: AsyncSession, today: date | None = None) -> uuid.UUID:
    """Load the demo CPTS (once) and its slots for today and the next two days."""
    data = demo_data()
    territory = await session.scalar(
        select(Territory).where(Territory.finess == data["territory"]["finess"])
    )
    if territory is None:
        territory = await _create_entities(session, data)
    software_id = await session.scalar(
        select(ApiClient.id).where(ApiClient.name == DEMO_SOFTWARE_NAME, ApiClient.active)
    )
    if software_id is None:
        raise RuntimeError("the demo practice software client was revoked; reset the demo data")
    await _add_slots(session, territory, software_id, today)
    return territory.id


async def _create_entities(session: AsyncSession, data: dict[str, Any]) -> Territory:
    await set_centroids(session, [(c["insee_code"], c["lat"], c["lon"]) for c in data["communes"]])
    territory = await territories.create_territory(
        session, None, TerritoryCreate(**data["territory"])
    )
    site_ids: list[uuid.UUID] = []
    for site in data["sites"]:
        created = await sites.create_site(
            session,
            None,
            SiteCreate(territory_id=territory.id, **site),
        )
        site_ids.append(created.id)
    by_site: dict[uuid.UUID, list[uuid.UUID]] = {sid: [] for sid in site_ids}
    pro_ids: list[uuid.UUID] = []
    for pro in data["professionals"]:
        fields = {k: v for k, v in pro.items() if k != "site"}
        created_pro = await professionals.create_professional(
            session, None, ProfessionalCreate(**fields)
        )
        by_site[site_ids[pro["site"]]].append(created_pro.id)
        pro_ids.append(created_pro.id)
    for site_id, ids in by_site.items():
        await session.execute(
            text(
                "INSERT INTO site_professionals (site_id, professional_id) "
                "SELECT :site_id, unnest(CAST(:ids AS uuid[]))"
            ),
            {"site_id": site_id, "ids": ids},
        )
    await api_clients.create_client(
        session,
        None,
        ApiClientCreate(
            name=DEMO_SOFTWARE_NAME,
            role="practice_software",
            territory_ids=[territory.id],
            professional_ids=pro_ids,
        ),
    )
    return territory


async def _add_slots(
    session: AsyncSession, territory: Territory, software_id: uuid.UUID, today: date | None
) -> None:
    zone = ZoneInfo(territory.timezone)
    now = datetime.now(zone)
    today = today or now.date()
    rows = (
        await session.execute(
            select(Professional.id, Professional.rpps, Site.id)
            .join(Site, text("true"))
            .where(
                Site.territory_id == territory.id,
                text(
                    "EXISTS (SELECT 1 FROM site_professionals sp WHERE sp.site_id = sites.id "
                    "AND sp.professional_id = professionals.id)"
                ),
            )
        )
    ).all()
    slots: list[dict[str, Any]] = []
    for pro_id, rpps, site_id in rows:
        for offset in range(3):
            day = today + timedelta(days=offset)
            # The same professional and day always get the same slots (re-seeding adds nothing).
            rnd = random.Random(f"{rpps}-{day.isoformat()}")  # noqa: S311 - demo data
            for _ in range(rnd.randint(2, 6)):
                start = datetime.combine(
                    day, time(rnd.randint(8, 18), rnd.choice((0, 20, 40))), zone
                )
                if start < now:
                    continue
                slots.append(
                    {
                        "external_id": f"demo-{rpps}-{start.strftime('%Y%m%dT%H%M')}",
                        "professional_id": pro_id,
                        "site_id": site_id,
                        "start_at": start,
                        "end_at": start + timedelta(minutes=SLOT_MINUTES),
                        "modality": rnd.choices(("AMB", "VR", "HH"), (8, 2, 1))[0],
                    }
                )
    if slots:
        # DO NOTHING with no target skips repeats and overlaps alike (unique and exclusion).
        await session.execute(
            text(
                """
                INSERT INTO slots (source_client_id, external_id, professional_id, site_id,
                                   start_at, end_at, modality, labels)
                VALUES (:source, :external_id, :professional_id, :site_id, :start_at, :end_at,
                        :modality, ARRAY['SNP'])
                ON CONFLICT DO NOTHING
                """
            ),
            [{"source": software_id, **s} for s in slots],
        )
