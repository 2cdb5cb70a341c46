"""Admin CRUD of professionals: create, read, update, deactivate, list by pages."""

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, Professional
from tests.conftest import new_rpps
from tests.factories import create_professional
from tests.routers.paging import ids_of, walk_pages
from tests.routers.test_errors import assert_problem

Headers = dict[str, str]


async def test_create_professional_answers_201_with_every_field(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    body: dict[str, Any] = {
        "rpps": new_rpps(),
        "family_name": "Le Goff",
        "given_name": "Anne",
        "profession": "10",
        "specialty": "SM54",
        "sas_participant": True,
        "accepts_en_sus": True,
        "weekly_snp_cap": 12,
        "languages": ["fr", "br"],
    }
    response = await client.post("/v1/professionals", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert {k: created[k] for k in body} == body
    assert created["active"] is True
    fetched = await client.get(f"/v1/professionals/{created['id']}", headers=admin_headers)
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_create_professional_is_audited_without_names(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession
) -> None:
    created = await create_professional(client, admin_headers, family_name="Kerjean")
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "professional.create", AuditEvent.resource_id == created["id"]
        )
    )
    assert event is not None
    assert event.actor.startswith("admin:")
    assert "Kerjean" not in str(event.detail)


@pytest.mark.parametrize(
    ("field", "value", "location"),
    [
        ("rpps", "1234567890", "body.rpps"),
        ("rpps", "1234567890X", "body.rpps"),
        ("family_name", "", "body.family_name"),
        ("family_name", "   ", "body.family_name"),
        ("weekly_snp_cap", -1, "body.weekly_snp_cap"),
        ("languages", ["French"], "body.languages[0]"),
        ("sas_participant", "maybe", "body.sas_participant"),
    ],
)
async def test_invalid_professional_field_is_422_naming_it_and_writes_nothing(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    session: AsyncSession,
    field: str,
    value: object,
    location: str,
) -> None:
    before = await session.scalar(select(func.count()).select_from(Professional))
    body = {
        "rpps": new_rpps(),
        "family_name": "Martin",
        "given_name": "Camille",
        "profession": "10",
        field: value,
    }
    response = await client.post("/v1/professionals", json=body, headers=admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    assert [e["location"] for e in problem["errors"]] == [location]
    assert await session.scalar(select(func.count()).select_from(Professional)) == before


async def test_missing_required_field_is_422_naming_it(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    body = {"rpps": new_rpps(), "family_name": "Martin", "profession": "10"}
    response = await client.post("/v1/professionals", json=body, headers=admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["errors"][0]["location"] == "body.given_name"
    assert problem["errors"][0]["type"] == "missing"


async def test_patch_changes_only_the_given_fields(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await create_professional(client, admin_headers, specialty="SM54")
    response = await client.patch(
        f"/v1/professionals/{created['id']}",
        json={"accepts_en_sus": True, "specialty": None},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["accepts_en_sus"] is True
    assert updated["specialty"] is None
    assert updated["family_name"] == created["family_name"]
    assert updated["rpps"] == created["rpps"]


@pytest.mark.parametrize("field", ["family_name", "profession", "sas_participant", "active"])
async def test_patch_null_on_a_required_field_is_422_naming_it(
    client: httpx.AsyncClient, admin_headers: Headers, field: str
) -> None:
    created = await create_professional(client, admin_headers)
    response = await client.patch(
        f"/v1/professionals/{created['id']}", json={field: None}, headers=admin_headers
    )
    problem = assert_problem(response, 422, "invalid-input")
    assert [e["location"] for e in problem["errors"]] == [f"body.{field}"]
    fetched = await client.get(f"/v1/professionals/{created['id']}", headers=admin_headers)
    assert fetched.json()[field] == created[field]


async def test_patch_cannot_change_the_rpps(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await create_professional(client, admin_headers)
    response = await client.patch(
        f"/v1/professionals/{created['id']}", json={"rpps": new_rpps()}, headers=admin_headers
    )
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["errors"][0]["location"] == "body.rpps"


async def test_delete_deactivates_the_professional(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = await create_professional(client, admin_headers)
    response = await client.delete(f"/v1/professionals/{created['id']}", headers=admin_headers)
    assert response.status_code == 204
    assert response.content == b""
    fetched = await client.get(f"/v1/professionals/{created['id']}", headers=admin_headers)
    assert fetched.status_code == 200
    assert fetched.json()["active"] is False
    active = await client.get(
        "/v1/professionals", params={"active": "true", "limit": 500}, headers=admin_headers
    )
    assert created["id"] not in active.text


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_unknown_professional_is_404(
    client: httpx.AsyncClient, admin_headers: Headers, method: str
) -> None:
    response = await client.request(
        method,
        "/v1/professionals/00000000-0000-4000-8000-000000000000",
        json={"family_name": "X"} if method == "PATCH" else None,
        headers=admin_headers,
    )
    assert_problem(response, 404, "not-found")


async def test_list_filters_by_rpps(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    wanted = await create_professional(client, admin_headers)
    await create_professional(client, admin_headers)
    response = await client.get(
        "/v1/professionals", params={"rpps": wanted["rpps"]}, headers=admin_headers
    )
    assert [p["id"] for p in response.json()["items"]] == [wanted["id"]]


async def test_list_filter_with_a_bad_rpps_is_422(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.get("/v1/professionals", params={"rpps": "12"}, headers=admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["errors"][0]["location"] == "query.rpps"


async def test_list_walks_every_professional_once_over_pages(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    created = {(await create_professional(client, admin_headers))["id"] for _ in range(7)}
    pages = await walk_pages(client, "/v1/professionals", admin_headers, limit=3)
    seen = ids_of(pages)
    assert len(pages) >= 3
    assert len(seen) == len(set(seen))
    assert created <= set(seen)
    assert [len(p) for p in pages[:-1]] == [3] * (len(pages) - 1)


@pytest.mark.parametrize("limit", [0, 501, -1])
async def test_list_limit_out_of_range_is_422(
    client: httpx.AsyncClient, admin_headers: Headers, limit: int
) -> None:
    response = await client.get("/v1/professionals", params={"limit": limit}, headers=admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["errors"][0]["location"] == "query.limit"
