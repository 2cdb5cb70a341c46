from typing import Any

import httpx

from tests.conftest import new_finess
from tests.factories import create_territory


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
