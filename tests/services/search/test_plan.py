"""The search statement walks the sites nearest first (GiST, KNN) and probes each one's slots."""

import uuid
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.search.sql import RANKED_SLOTS_SQL
from tests.services.search.fixtures import NANTES_LAT, NANTES_LON, NOW


async def test_search_walks_sites_by_knn_and_probes_their_open_slots_by_index(
    session: AsyncSession,
) -> None:
    # On tiny test tables a scan and a sort are cheaper; forbid them to see that the indexes fit.
    for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        await session.execute(text(f"SET LOCAL {setting} = off"))
    params = {
        "lat": NANTES_LAT,
        "lon": NANTES_LON,
        "now": NOW,
        "window_start": NOW,
        "window_end": NOW + timedelta(hours=72),
        "explicit_end": False,
        "modalities": ["AMB", "HH", "VR"],
        "territory_ids": [uuid.uuid4()],
        "accessible": False,
        "specialty": None,
        "languages": None,
        "mt_rpps": None,
        "metres_per_minute": 500.0,
        "margin_seconds": 600.0,
        "site_cap": 100,
        "per_site": 3,
        "row_cap": 30,
        "limit": 10,
        "radius_m": 15_000.0,
        "radii_m": [10_000.0, 15_000.0],
        "enough": 5,
    }
    plan = "\n".join(
        row[0] for row in await session.execute(text("EXPLAIN " + RANKED_SLOTS_SQL.text), params)
    )

    assert "ix_sites_earth" in plan
    assert "<->" in plan  # KNN order by the index, not a sort of every site in the radius
    assert "ix_slots_site_open_start" in plan  # each site's open slots, earliest first
