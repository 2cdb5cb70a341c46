"""Site coordinates in range, and the GiST index that serves nearest-site search."""

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.models.rows import CHECK_VIOLATION, SITE_SQL, refusal

NEAREST_SITES = (
    "SELECT id FROM sites ORDER BY ll_to_earth(lat, lon) <-> ll_to_earth(47.2184, -1.5536) LIMIT 5"
)


@pytest.mark.parametrize(
    ("lat", "lon", "constraint"),
    [
        (90.01, 0.0, "ck_sites_lat_range"),
        (-90.01, 0.0, "ck_sites_lat_range"),
        (45.0, 180.01, "ck_sites_lon_range"),
        (45.0, -180.01, "ck_sites_lon_range"),
    ],
)
async def test_site_coordinates_out_of_range_are_refused(
    connection: AsyncConnection, territory_id: uuid.UUID, lat: float, lon: float, constraint: str
) -> None:
    refused = await refusal(connection, SITE_SQL, territory_id=territory_id, lat=lat, lon=lon)
    assert refused == (CHECK_VIOLATION, constraint)


async def test_site_postcode_must_be_five_digits(
    connection: AsyncConnection, territory_id: uuid.UUID
) -> None:
    refused = await refusal(
        connection, SITE_SQL.replace("'44000'", "'4400'"), territory_id=territory_id, lat=47, lon=-1
    )
    assert refused == (CHECK_VIOLATION, "ck_sites_postcode_format")


async def test_earth_index_exists_on_sites(connection: AsyncConnection) -> None:
    definition = (
        await connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_sites_earth'")
        )
    ).scalar_one()
    assert "USING gist" in definition
    assert "ll_to_earth(lat, lon)" in definition


async def test_nearest_sites_query_walks_the_earth_index(
    connection: AsyncConnection, territory_id: uuid.UUID
) -> None:
    # 3,000 sites over a 1° × 1° square around Nantes, then the planner's own choice.
    await connection.execute(
        text(
            "INSERT INTO sites (territory_id, name, address, postcode, insee_code, lat, lon) "
            "SELECT :territory_id, 'MSP ' || i, 'rue', '44000', '44109', "
            "46.7 + (i % 60) / 60.0, -2.0 + (i / 60) / 50.0 FROM generate_series(1, 3000) i"
        ),
        {"territory_id": territory_id},
    )
    await connection.execute(text("ANALYZE sites"))
    plan = "\n".join((await connection.execute(text("EXPLAIN " + NEAREST_SITES))).scalars())
    assert "Index Scan using ix_sites_earth on sites" in plan, plan
    assert "Order By: ((ll_to_earth(lat, lon))::cube <->" in plan, plan
    nearest = (await connection.execute(text(NEAREST_SITES))).scalars().all()
    assert len(nearest) == 5


async def test_nearest_sites_come_back_closest_first(
    connection: AsyncConnection, territory_id: uuid.UUID
) -> None:
    ids = {}
    for name, lat, lon in [("far", 47.9, -1.5), ("near", 47.22, -1.55), ("mid", 47.4, -1.55)]:
        ids[name] = (
            await connection.execute(
                text(SITE_SQL), {"territory_id": territory_id, "lat": lat, "lon": lon}
            )
        ).scalar_one()
    await connection.execute(text("SET LOCAL enable_seqscan = off"))
    found = (await connection.execute(text(NEAREST_SITES))).scalars().all()
    assert [i for i in found if i in ids.values()] == [ids["near"], ids["mid"], ids["far"]]
