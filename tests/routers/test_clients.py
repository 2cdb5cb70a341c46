"""Admin management of API clients: create (key once), list by pages, revoke; role rules."""

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.db import get_session
from app.main import create_app
from app.models import ApiClient
from tests.conftest import MakeKey, bearer
from tests.factories import create_professional, create_site, create_territory
from tests.routers.paging import ids_of, walk_pages
from tests.routers.test_errors import assert_problem

Headers = dict[str, str]


@pytest.fixture
async def territory(client: httpx.AsyncClient, admin_headers: Headers) -> dict[str, Any]:
    return await create_territory(client, admin_headers)


async def test_create_regulator_answers_201_with_its_key_and_scope(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    body = {"name": "SAMU 44", "role": "regulator", "territory_ids": [territory["id"]]}
    response = await client.post("/v1/clients", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "SAMU 44"
    assert created["role"] == "regulator"
    assert created["territory_ids"] == [territory["id"]]
    assert created["active"] is True
    assert created["webhook_secret"] is None
    assert re.fullmatch(r"snp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", created["api_key"])
    whoami = await client.get("/v1/territories", headers=bearer(created["api_key"]))
    assert whoami.status_code == 403  # a working key, of a regulator


async def test_practice_software_with_webhook_gets_its_secret_once(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    pro = await create_professional(client, admin_headers)
    await create_site(client, admin_headers, territory["id"], [pro["id"]])
    body = {
        "name": "Agenda Médical",
        "role": "practice_software",
        "territory_ids": [territory["id"]],
        "professional_ids": [pro["id"]],
        "webhook_url": "https://93.184.215.14/hooks/snp",
    }
    response = await client.post("/v1/clients", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["professional_ids"] == [pro["id"]]
    assert created["webhook_url"] == "https://93.184.215.14/hooks/snp"
    secret = created["webhook_secret"]
    assert secret.startswith("whsec_")
    listed = await client.get("/v1/clients", params={"limit": 500}, headers=admin_headers)
    assert secret not in listed.text
    item = next(c for c in listed.json()["items"] if c["id"] == created["id"])
    assert "webhook_secret" not in item
    assert item["professional_ids"] == [pro["id"]]
    assert item["territory_ids"] == [territory["id"]]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"role": "superuser"}, "body.role"),
        ({"role": "regulator"}, "body.territory_ids"),
        ({"role": "sas_platform"}, "body.territory_ids"),
        ({"role": "regulator", "territory_ids": [str(uuid.uuid4())]}, "body.territory_ids"),
        ({"role": "admin", "professional_ids": ["{pro}"]}, "body.professional_ids"),
        (
            {"role": "regulator", "territory_ids": ["{territory}"], "professional_ids": ["{pro}"]},
            "body.professional_ids",
        ),
        (
            {"role": "practice_software", "professional_ids": [str(uuid.uuid4())]},
            "body.professional_ids",
        ),
        ({"role": "admin", "webhook_url": "https://a.example"}, "body.webhook_url"),
        ({"role": "practice_software", "webhook_url": "not a url"}, "body.webhook_url"),
        ({"role": "admin", "name": ""}, "body.name"),
        ({"role": "admin", "territory_ids": ["nope"]}, "body.territory_ids[0]"),
    ],
)
async def test_client_outside_the_role_rules_is_422_and_writes_nothing(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    session: AsyncSession,
    territory: dict[str, Any],
    body: dict[str, Any],
    location: str,
) -> None:
    pro = await create_professional(client, admin_headers)
    ids = {"{pro}": pro["id"], "{territory}": territory["id"]}
    full = {"name": "client", **body}
    for key in ("territory_ids", "professional_ids"):
        if key in full:
            full[key] = [ids.get(v, v) for v in full[key]]
    before = await session.scalar(select(func.count()).select_from(ApiClient))
    response = await client.post("/v1/clients", json=full, headers=admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    locations = [e["location"] for e in problem.get("errors", [])] or [problem["location"]]
    assert locations == [location]
    assert await session.scalar(select(func.count()).select_from(ApiClient)) == before


async def test_revoke_answers_204_and_the_client_stays_listed_inactive(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey
) -> None:
    _, client_id = await make_key("admin")
    response = await client.delete(f"/v1/clients/{client_id}", headers=admin_headers)
    assert response.status_code == 204
    listed = await client.get("/v1/clients", params={"limit": 500}, headers=admin_headers)
    item = next(c for c in listed.json()["items"] if c["id"] == str(client_id))
    assert item["active"] is False


async def test_revoking_twice_is_harmless(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey
) -> None:
    _, client_id = await make_key("admin")
    assert (
        await client.delete(f"/v1/clients/{client_id}", headers=admin_headers)
    ).status_code == 204
    assert (
        await client.delete(f"/v1/clients/{client_id}", headers=admin_headers)
    ).status_code == 204


async def test_revoking_an_unknown_client_is_404(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.delete(f"/v1/clients/{uuid.uuid4()}", headers=admin_headers)
    assert_problem(response, 404, "not-found")


async def test_list_walks_every_client_once_over_pages(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey
) -> None:
    created = {str((await make_key("admin"))[1]) for _ in range(7)}
    pages = await walk_pages(client, "/v1/clients", admin_headers, limit=3)
    seen = ids_of(pages)
    assert len(pages) >= 3
    assert len(seen) == len(set(seen))
    assert created <= set(seen)


async def test_list_with_a_bad_cursor_is_422(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.get("/v1/clients", params={"cursor": "abc"}, headers=admin_headers)
    assert assert_problem(response, 422, "invalid-input")["location"] == "cursor"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://169.254.169.254/", "https://10.0.0.1/"]
)
async def test_webhook_to_a_private_address_is_422(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession, url: str
) -> None:
    before = await session.scalar(select(func.count()).select_from(ApiClient))
    body = {"name": "Agenda", "role": "practice_software", "webhook_url": url}
    response = await client.post("/v1/clients", json=body, headers=admin_headers)
    assert assert_problem(response, 422, "invalid-input")["location"] == "body.webhook_url"
    assert await session.scalar(select(func.count()).select_from(ApiClient)) == before


async def test_webhook_to_a_private_address_passes_when_allowed(
    settings: Settings, engine: AsyncEngine, session: AsyncSession, admin_headers: Headers
) -> None:
    app = create_app(settings.model_copy(update={"webhook_allow_private_targets": True}))

    async def same_session() -> AsyncIterator[AsyncSession]:
        yield session

    app.dependency_overrides[get_session] = same_session
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as on_premise:
        body = {"name": "Agenda", "role": "practice_software", "webhook_url": "http://10.0.0.1/h"}
        response = await on_premise.post("/v1/clients", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text


async def test_practice_software_with_professionals_outside_its_territories_is_422(
    client: httpx.AsyncClient, admin_headers: Headers, territory: dict[str, Any]
) -> None:
    inside = await create_professional(client, admin_headers)
    outside = await create_professional(client, admin_headers)
    nowhere = await create_professional(client, admin_headers)
    await create_site(client, admin_headers, territory["id"], [inside["id"]])
    elsewhere = await create_territory(client, admin_headers)
    await create_site(client, admin_headers, elsewhere["id"], [outside["id"]])
    body = {
        "name": "Agenda",
        "role": "practice_software",
        "territory_ids": [territory["id"]],
        "professional_ids": [inside["id"], outside["id"], nowhere["id"]],
    }
    response = await client.post("/v1/clients", json=body, headers=admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["location"] == "body.professional_ids"
    assert outside["id"] in problem["detail"]
    assert nowhere["id"] in problem["detail"]
    assert inside["id"] not in problem["detail"]
    body["professional_ids"] = [inside["id"]]
    response = await client.post("/v1/clients", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
