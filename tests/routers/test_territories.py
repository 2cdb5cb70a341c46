"""Admin CRUD of CPTS territories."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Territory
from tests.conftest import new_finess
from tests.factories import create_territory
from tests.routers.paging import ids_of, walk_pages
from tests.routers.test_errors import assert_problem


async def test_create_territory_answers_201_with_every_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    finess = new_finess("33")
    body: dict[str, Any] = {"name": "CPTS Bordeaux", "finess": finess, "departement": "33"}
    response = await client.post("/v1/territories", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["finess"] == finess
    assert created["timezone"] == "Europe/Paris"
    assert created["default_radius_km"] == 10.0
    fetched = await client.get(f"/v1/territories/{created['id']}", headers=admin_headers)
    assert fetched.json()["name"] == "CPTS Bordeaux"


async def test_duplicate_finess_is_409(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    territory = await create_territory(client, admin_headers)
    response = await client.post(
        "/v1/territories",
        json={"name": "again", "finess": territory["finess"], "departement": "44"},
        headers=admin_headers,
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["location"] == "body.finess"


async def test_create_territory_with_its_own_radius_keeps_the_default_beside_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    territory = await create_territory(
        client, admin_headers, departement="75", radius_km=3, enlargement_km=2
    )
    assert territory["radius_km"] == 3
    assert territory["enlargement_km"] == 2
    assert territory["default_radius_km"] == 5
    assert territory["default_enlargement_km"] == 3


@pytest.mark.parametrize(("departement", "radius"), [("2A", 30.0), ("2B", 40.0), ("01", 20.0)])
async def test_territory_gets_the_radius_of_its_departement(
    client: httpx.AsyncClient, admin_headers: dict[str, str], departement: str, radius: float
) -> None:
    territory = await create_territory(client, admin_headers, departement=departement)
    assert territory["default_radius_km"] == radius


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"finess": "440000288"}, "body.finess"),
        ({"finess": "4400002"}, "body.finess"),
        ({"departement": "20"}, "body.departement"),
        ({"departement": "99"}, "body.departement"),
        ({"timezone": "Europe/Nantes"}, "body.timezone"),
        # Found by schemathesis: names the tz database reads as files (OSError, a 500 before).
        ({"timezone": "Zalgo" * 60}, "body.timezone"),
        ({"timezone": "../../../../etc/passwd"}, "body.timezone"),
        ({"radius_km": 0}, "body.radius_km"),
        ({"radius_km": 500}, "body.radius_km"),
        ({"name": ""}, "body.name"),
    ],
)
async def test_invalid_territory_is_422_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    fields: dict[str, Any],
    location: str,
) -> None:
    before = await session.scalar(select(func.count()).select_from(Territory))
    body = {"name": "CPTS", "finess": new_finess(), "departement": "44", **fields}
    response = await client.post("/v1/territories", json=body, headers=admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    assert [e["location"] for e in problem["errors"]] == [location]
    assert await session.scalar(select(func.count()).select_from(Territory)) == before


async def test_duplicate_finess_leaves_the_first_territory_alone(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    territory = await create_territory(client, admin_headers, name="first")
    response = await client.post(
        "/v1/territories",
        json={"name": "second", "finess": territory["finess"], "departement": "44"},
        headers=admin_headers,
    )
    assert_problem(response, 409, "conflict")
    names = (
        await session.scalars(select(Territory.name).where(Territory.finess == territory["finess"]))
    ).all()
    assert names == ["first"]


async def test_patch_territory_changes_only_the_given_fields(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    territory = await create_territory(client, admin_headers, radius_km=12)
    response = await client.patch(
        f"/v1/territories/{territory['id']}",
        json={"name": "CPTS renamed", "radius_km": None},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "CPTS renamed"
    assert updated["radius_km"] is None
    assert updated["finess"] == territory["finess"]


@pytest.mark.parametrize("field", ["name", "timezone", "active"])
async def test_patch_null_on_a_required_territory_field_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], field: str
) -> None:
    territory = await create_territory(client, admin_headers)
    response = await client.patch(
        f"/v1/territories/{territory['id']}", json={field: None}, headers=admin_headers
    )
    problem = assert_problem(response, 422, "invalid-input")
    assert [e["location"] for e in problem["errors"]] == [f"body.{field}"]


async def test_patch_cannot_change_the_finess(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    territory = await create_territory(client, admin_headers)
    response = await client.patch(
        f"/v1/territories/{territory['id']}", json={"finess": new_finess()}, headers=admin_headers
    )
    assert_problem(response, 422, "invalid-input")


@pytest.mark.parametrize("method", ["GET", "PATCH"])
async def test_unknown_territory_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str], method: str
) -> None:
    response = await client.request(
        method,
        f"/v1/territories/{uuid.uuid4()}",
        json={"name": "X"} if method == "PATCH" else None,
        headers=admin_headers,
    )
    assert_problem(response, 404, "not-found")


async def test_list_walks_every_territory_once_over_pages(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = {(await create_territory(client, admin_headers))["id"] for _ in range(7)}
    pages = await walk_pages(client, "/v1/territories", admin_headers, limit=3)
    seen = ids_of(pages)
    assert len(pages) >= 3
    assert len(seen) == len(set(seen))
    assert created <= set(seen)
    assert all(len(page) == 3 for page in pages[:-1])


async def test_territory_list_with_a_bad_cursor_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/territories", params={"cursor": "%%%"}, headers=admin_headers)
    assert assert_problem(response, 422, "invalid-input")["location"] == "cursor"


@pytest.mark.parametrize("radius", [0.001, 5e-324, 0.09, 0])
async def test_a_radius_that_rounds_to_nothing_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], radius: float
) -> None:
    body = {"name": "CPTS", "finess": new_finess(), "departement": "44", "radius_km": radius}
    response = await client.post("/v1/territories", json=body, headers=admin_headers)
    assert assert_problem(response, 422, "invalid-input")["errors"][0]["location"] == (
        "body.radius_km"
    )
    territory = await create_territory(client, admin_headers)
    response = await client.patch(
        f"/v1/territories/{territory['id']}", json={"radius_km": radius}, headers=admin_headers
    )
    assert_problem(response, 422, "invalid-input")


async def test_the_smallest_radius_is_kept(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    territory = await create_territory(client, admin_headers, radius_km=0.1)
    assert territory["radius_km"] == 0.1
