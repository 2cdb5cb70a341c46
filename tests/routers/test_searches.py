"""POST /v1/searches over HTTP, and PUT /v1/communes/centroids."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.conftest import bearer
from tests.services.search.conftest import index_agrees_with_sql  # noqa: F401 (autouse)
from tests.services.search.fixtures import NANTES_LAT, NANTES_LON, SearchWorld

HERE = {"lat": NANTES_LAT, "lon": NANTES_LON}


async def test_search_answers_ranked_candidates_in_the_design_shape(world: SearchWorld) -> None:
    territory = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, 1.0, pro)
    soon = datetime.now(UTC) + timedelta(hours=1)
    slot = await world.slot(pro, site, soon)
    _, key = await world.regulator(territory)

    response = await world.client.post(
        "/v1/searches", json={"location": HERE, "limit": 5}, headers=bearer(key)
    )

    assert response.status_code == 200, response.text
    body = response.json()
    # One candidate only: 10 km (Loire-Atlantique) enlarged three times by 5 km.
    assert (body["radius_km"], body["enlarged"]) == (25.0, True)
    [candidate] = body["candidates"]
    assert candidate["slot_id"] == str(slot)
    assert candidate["modality"] == "AMB"
    assert candidate["distance_km"] == pytest.approx(1.0, abs=0.02)
    assert candidate["professional"] == {
        "id": pro["id"],
        "rpps": pro["rpps"],
        "family_name": pro["family_name"],
        "given_name": pro["given_name"],
    }
    assert candidate["site"] == {
        "id": site["id"],
        "name": site["name"],
        "address": site["address"],
        "postcode": site["postcode"],
    }
    assert candidate["territory_id"] == str(territory)
    assert candidate["why"]
    assert datetime.fromisoformat(candidate["start"]) == soon


async def test_regulator_of_another_territory_sees_nothing(world: SearchWorld) -> None:
    territory = await world.territory()
    pro = await world.professional()
    await world.slot(
        pro, await world.site(territory, 1.0, pro), datetime.now(UTC) + timedelta(hours=1)
    )
    _, outsider = await world.regulator(await world.territory())

    response = await world.client.post(
        "/v1/searches", json={"location": HERE}, headers=bearer(outsider)
    )

    assert response.status_code == 200
    assert response.json()["candidates"] == []


@pytest.mark.parametrize("role", ["admin", "practice_software", "sas_platform"])
async def test_search_is_for_regulators_only(world: SearchWorld, role: str) -> None:
    territory = await world.territory()
    key, _ = await world.make_key(role, [territory] if role == "sas_platform" else None)

    response = await world.client.post("/v1/searches", json={"location": HERE}, headers=bearer(key))

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"location": HERE, "limit": 51}, "body.limit"),
        ({"location": HERE, "modalities": ["XX"]}, "body.modalities[0]"),
        ({"location": HERE, "window": {"start": "2026-03-10T10:00:00"}}, "body.window.start"),
        ({"location": HERE, "medecin_traitant_rpps": "123"}, "body.medecin_traitant_rpps"),
    ],
)
async def test_bad_search_body_is_422_naming_the_field(
    world: SearchWorld, body: dict[str, object], location: str
) -> None:
    _, key = await world.regulator(await world.territory())

    response = await world.client.post("/v1/searches", json=body, headers=bearer(key))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert location in [e["location"] for e in response.json()["errors"]]


async def test_window_in_the_past_is_422_with_location(world: SearchWorld) -> None:
    _, key = await world.regulator(await world.territory())
    past = datetime.now(UTC) - timedelta(days=2)
    window = {"start": past.isoformat(), "end": (past + timedelta(hours=1)).isoformat()}

    response = await world.client.post(
        "/v1/searches", json={"location": HERE, "window": window}, headers=bearer(key)
    )

    assert response.status_code == 422
    assert response.json()["location"] == "body.window.end"


async def test_admin_loads_centroids_as_csv_and_search_by_insee_code_uses_them(
    world: SearchWorld,
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    await world.slot(
        pro, await world.site(territory, 2.0, pro), datetime.now(UTC) + timedelta(hours=1)
    )
    _, key = await world.regulator(territory)
    await world.session.execute(text("UPDATE communes SET lat = NULL, lon = NULL"))
    by_code = {"location": {"insee_code": "44109"}}

    before = await world.client.post("/v1/searches", json=by_code, headers=bearer(key))
    loaded = await world.client.put(
        "/v1/communes/centroids",
        content=f"insee_code,lat,lon\n44109,{NANTES_LAT},{NANTES_LON}\n99999,1,1\n",
        headers={**world.admin, "Content-Type": "text/csv"},
    )
    after = await world.client.post("/v1/searches", json=by_code, headers=bearer(key))

    assert before.status_code == 422
    assert before.json()["location"] == "body.location.insee_code"
    assert loaded.status_code == 200, loaded.text
    assert loaded.json() == {"rows": 2, "communes_updated": 1}
    assert after.status_code == 200
    assert after.json()["candidates"][0]["distance_km"] == pytest.approx(2.0, abs=0.02)


async def test_bad_centroid_csv_is_422_naming_the_line_and_changes_nothing(
    world: SearchWorld,
) -> None:
    await world.session.execute(text("UPDATE communes SET lat = NULL, lon = NULL"))

    response = await world.client.put(
        "/v1/communes/centroids",
        content="insee_code,lat,lon\n44109,47.2,-1.5\n44001,north,-1.5\n",
        headers={**world.admin, "Content-Type": "text/csv"},
    )

    assert response.status_code == 422
    assert response.json()["location"] == "line 3"
    loaded = await world.session.scalar(text("SELECT count(*) FROM communes WHERE lat IS NOT NULL"))
    assert loaded == 0


async def test_centroids_need_text_csv_and_an_admin(world: SearchWorld) -> None:
    _, regulator = await world.regulator(await world.territory())
    csv = "insee_code,lat,lon\n44109,47.2,-1.5\n"

    as_json = await world.client.put(
        "/v1/communes/centroids",
        content=csv,
        headers={**world.admin, "Content-Type": "application/json"},
    )
    as_regulator = await world.client.put(
        "/v1/communes/centroids",
        content=csv,
        headers={**bearer(regulator), "Content-Type": "text/csv"},
    )

    assert as_json.status_code == 415
    assert as_regulator.status_code == 403
