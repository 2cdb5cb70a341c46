"""Admin CRUD of sites: commune and postcode must agree, professionals attached, pages."""

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Site, SiteProfessional
from tests.conftest import MakeKey, bearer
from tests.factories import NANTES, create_professional, create_site, create_territory
from tests.routers.paging import ids_of, walk_pages
from tests.routers.test_errors import assert_problem

Headers = dict[str, str]


@pytest.fixture
async def territory(client: httpx.AsyncClient, admin_headers: Headers) -> dict[str, Any]:
    return await create_territory(client, admin_headers)


def site_body(territory_id: str, /, **fields: Any) -> dict[str, Any]:
    return {
        "territory_id": territory_id,
        "name": "MSP de l'Île",
        "address": "2 quai François Mitterrand",
        **NANTES,
        **fields,
    }


async def count_sites(session: AsyncSession) -> int | None:
    return await session.scalar(select(func.count()).select_from(Site))


async def test_create_site_answers_201_with_every_field(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    pros = [(await create_professional(client, admin_headers))["id"] for _ in range(2)]
    body = site_body(territory["id"], professional_ids=pros, accessible=True)
    response = await client.post("/v1/sites", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert {k: created[k] for k in body if k != "professional_ids"} == {
        k: v for k, v in body.items() if k != "professional_ids"
    }
    assert sorted(created["professional_ids"]) == sorted(pros)
    assert created["timezone"] == "Europe/Paris"
    fetched = await client.get(f"/v1/sites/{created['id']}", headers=admin_headers)
    assert fetched.json() == created


async def test_site_takes_the_zone_of_its_territory_by_default(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    reunion = await create_territory(
        client, admin_headers, departement="974", timezone="Indian/Reunion"
    )
    site = await create_site(
        client,
        admin_headers,
        reunion["id"],
        insee_code="97411",
        postcode="97400",
        lat=-20.8789,
        lon=55.4481,
    )
    assert site["timezone"] == "Indian/Reunion"


async def test_site_in_corsica_is_accepted(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    corsica = await create_territory(client, admin_headers, departement="2A")
    site = await create_site(
        client,
        admin_headers,
        corsica["id"],
        insee_code="2a004",
        postcode="20000",
        lat=41.9192,
        lon=8.7386,
    )
    assert site["insee_code"] == "2A004"


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"postcode": "75001"}, "body.postcode"),
        ({"insee_code": "99999"}, "body.insee_code"),
        ({"insee_code": "44999"}, "body.insee_code"),
        ({"territory_id": str(uuid.uuid4())}, "body.territory_id"),
        ({"professional_ids": [str(uuid.uuid4())]}, "body.professional_ids"),
        ({"lat": 91}, "body.lat"),
        ({"lon": -181}, "body.lon"),
        ({"postcode": "4400"}, "body.postcode"),
        ({"insee_code": "2C004"}, "body.insee_code"),
        ({"timezone": "Europe/Nantes"}, "body.timezone"),
        ({"name": ""}, "body.name"),
    ],
)
async def test_invalid_site_is_422_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    session: AsyncSession,
    territory: dict[str, Any],
    fields: dict[str, Any],
    location: str,
) -> None:
    before = await count_sites(session)
    response = await client.post(
        "/v1/sites", json=site_body(territory["id"], **fields), headers=admin_headers
    )
    problem = assert_problem(response, 422, "invalid-input")
    locations = [e["location"] for e in problem.get("errors", [])] or [problem["location"]]
    assert locations == [location]
    assert await count_sites(session) == before


async def test_postcode_of_another_commune_is_refused_with_the_right_ones(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/sites", json=site_body(territory["id"], postcode="75001"), headers=admin_headers
    )
    problem = assert_problem(response, 422, "invalid-input")
    assert "Nantes" in problem["detail"]
    assert "44000" in problem["detail"]


async def test_patch_moves_the_site_within_a_consistent_commune(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    site = await create_site(client, admin_headers, territory["id"])
    response = await client.patch(
        f"/v1/sites/{site['id']}",
        json={"insee_code": "44162", "postcode": "44800", "lat": 47.2122, "lon": -1.6497},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["insee_code"] == "44162"
    assert response.json()["lat"] == 47.2122


async def test_patch_postcode_inconsistent_with_the_commune_is_422(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    site = await create_site(client, admin_headers, territory["id"])
    response = await client.patch(
        f"/v1/sites/{site['id']}", json={"postcode": "75001"}, headers=admin_headers
    )
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["location"] == "body.postcode"
    fetched = await client.get(f"/v1/sites/{site['id']}", headers=admin_headers)
    assert fetched.json()["postcode"] == "44000"


@pytest.mark.parametrize("field", ["name", "lat", "insee_code", "professional_ids", "active"])
async def test_patch_null_on_a_required_site_field_is_422(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any], field: str
) -> None:
    site = await create_site(client, admin_headers, territory["id"])
    response = await client.patch(
        f"/v1/sites/{site['id']}", json={field: None}, headers=admin_headers
    )
    problem = assert_problem(response, 422, "invalid-input")
    assert [e["location"] for e in problem["errors"]] == [f"body.{field}"]


async def test_patch_replaces_the_professionals_of_the_site(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    session: AsyncSession,
    territory: dict[str, Any],
) -> None:
    first, second = [(await create_professional(client, admin_headers))["id"] for _ in range(2)]
    site = await create_site(client, admin_headers, territory["id"], [first])
    response = await client.patch(
        f"/v1/sites/{site['id']}",
        json={"professional_ids": [second, second]},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["professional_ids"] == [second]
    linked = await session.scalars(
        select(SiteProfessional.professional_id).where(
            SiteProfessional.site_id == uuid.UUID(site["id"])
        )
    )
    assert [str(p) for p in linked] == [second]


async def test_delete_deactivates_the_site(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    site = await create_site(client, admin_headers, territory["id"])
    assert (
        await client.delete(f"/v1/sites/{site['id']}", headers=admin_headers)
    ).status_code == 204
    fetched = await client.get(f"/v1/sites/{site['id']}", headers=admin_headers)
    assert fetched.json()["active"] is False
    inactive = await client.get(
        "/v1/sites",
        params={"active": "false", "territory_id": territory["id"]},
        headers=admin_headers,
    )
    assert [s["id"] for s in inactive.json()["items"]] == [site["id"]]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_unknown_site_is_404(
    client: httpx.AsyncClient, admin_headers: Headers, method: str
) -> None:
    response = await client.request(
        method,
        f"/v1/sites/{uuid.uuid4()}",
        json={"name": "X"} if method == "PATCH" else None,
        headers=admin_headers,
    )
    assert_problem(response, 404, "not-found")


async def test_list_walks_every_site_once_over_pages(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    pro = await create_professional(client, admin_headers)
    created = set()
    for _ in range(7):
        created.add((await create_site(client, admin_headers, territory["id"], [pro["id"]]))["id"])
    pages = await walk_pages(
        client, "/v1/sites", admin_headers, limit=3, territory_id=territory["id"]
    )
    seen = ids_of(pages)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert set(seen) == created
    assert all(s["professional_ids"] == [pro["id"]] for page in pages for s in page)


async def test_list_filters_by_territory(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    other = await create_territory(client, admin_headers)
    mine = await create_site(client, admin_headers, territory["id"])
    await create_site(client, admin_headers, other["id"])
    response = await client.get(
        "/v1/sites", params={"territory_id": territory["id"]}, headers=admin_headers
    )
    assert [s["id"] for s in response.json()["items"]] == [mine["id"]]


async def test_moving_a_site_changes_the_distance_a_search_gives_its_slots(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    session: AsyncSession,
    make_key: MakeKey,
    territory: dict[str, Any],
) -> None:
    pro = await create_professional(client, admin_headers)
    site = await create_site(client, admin_headers, territory["id"], [pro["id"]])
    _, software_id = await make_key("practice_software")
    await session.execute(
        text(
            "INSERT INTO slots (source_client_id, external_id, professional_id, site_id, "
            "start_at, end_at, modality) VALUES (:source, 'x1', :pro, :site, "
            "now() + interval '1 hour', now() + interval '80 minutes', 'AMB')"
        ),
        {"source": software_id, "pro": pro["id"], "site": site["id"]},
    )
    regulator, _ = await make_key("regulator", [uuid.UUID(territory["id"])])
    here = {"location": {"lat": site["lat"], "lon": site["lon"]}}

    before = await client.post("/v1/searches", json=here, headers=bearer(regulator))
    moved = await client.patch(  # 2 km north (a degree of latitude is 111.195 km)
        f"/v1/sites/{site['id']}",
        json={"lat": round(site["lat"] + 2 / 111.195, 6)},
        headers=admin_headers,
    )
    after = await client.post("/v1/searches", json=here, headers=bearer(regulator))

    assert moved.status_code == 200, moved.text
    assert before.json()["candidates"][0]["distance_km"] == pytest.approx(0.0, abs=0.02)
    assert after.json()["candidates"][0]["distance_km"] == pytest.approx(2.0, abs=0.02)


async def test_refused_patch_changes_nothing_on_the_site(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    site = await create_site(client, admin_headers, territory["id"])
    response = await client.patch(
        f"/v1/sites/{site['id']}",
        json={"name": "renamed", "professional_ids": [str(uuid.uuid4())]},
        headers=admin_headers,
    )
    assert assert_problem(response, 422, "invalid-input")["location"] == "body.professional_ids"
    other = await client.patch(
        f"/v1/sites/{site['id']}", json={"accessible": True}, headers=admin_headers
    )
    assert other.json()["name"] == site["name"]


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_non_finite_coordinates_are_422(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any], raw: str
) -> None:
    # Python's JSON reader (and so FastAPI's) accepts these non-standard literals.
    body = json.dumps(site_body(territory["id"], lat="LAT")).replace('"LAT"', raw)
    response = await client.post(
        "/v1/sites",
        content=body.encode(),
        headers={**admin_headers, "content-type": "application/json"},
    )
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["errors"][0]["location"] == "body.lat"
