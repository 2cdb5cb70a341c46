"""The search statement walks the slots' GiST index (location and time) in KNN order."""

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.search_sql import SEARCH_SQL
from tests.services.search_fixtures import NANTES_LAT, NANTES_LON, NOW


async def test_search_statement_uses_the_slots_location_time_gist_index(
    session: AsyncSession,
) -> None:
    # On a tiny test table a sequential scan is cheaper; forbid it to see that the index fits.
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    params = {
        "lat": NANTES_LAT,
        "lon": NANTES_LON,
        "now": NOW,
        "window_start": NOW,
        "window_end": NOW + timedelta(hours=72),
        "explicit_end": False,
        "modalities": ["AMB", "HH", "VR"],
        "territory_ids": [],
        "accessible": False,
        "specialty": None,
        "languages": None,
        "mt_rpps": None,
        "metres_per_minute": 500.0,
        "margin_seconds": 600.0,
        "scan_cap": 1000,
        "limit": 10,
        "radius_m": 10_000.0,
    }
    plan = "\n".join(
        row[0] for row in await session.execute(text("EXPLAIN " + SEARCH_SQL.text), params)
    )

    assert "ix_slots_open_earth_time" in plan
    assert "<->" in plan  # KNN order by the index, not a sort of every slot in the radius
