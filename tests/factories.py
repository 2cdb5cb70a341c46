"""Build territories, professionals and sites through the API, as an admin would."""

import uuid
from typing import Any

import httpx

from tests.conftest import new_finess, new_rpps


async def create_territory(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"name": "CPTS test", "finess": new_finess(), "departement": "44", **fields}
    response = await client.post("/v1/territories", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def create_professional(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {
        "rpps": new_rpps(),
        "family_name": "Martin",
        "given_name": "Camille",
        "profession": "10",
        "specialty": "SM54",
        "sas_participant": True,
        "accepts_en_sus": False,
        **fields,
    }
    response = await client.post("/v1/professionals", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


# Nantes city centre; the postcode and INSEE code agree (see app/data/communes.csv).
NANTES = {"insee_code": "44109", "postcode": "44000", "lat": 47.2184, "lon": -1.5536}


async def create_site(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    territory_id: uuid.UUID | str,
    professional_ids: list[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "territory_id": str(territory_id),
        "name": "Maison de santé test",
        "address": "1 rue de la Paix",
        **NANTES,
        "professional_ids": professional_ids or [],
        **fields,
    }
    response = await client.post("/v1/sites", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
