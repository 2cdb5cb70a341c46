"""A NUL or a lone surrogate in any stored or filtered text is a 422 naming the field, the value
never echoed nor logged, nothing written."""

import json
import logging
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Professional, Site, Territory
from tests.conftest import MakeKey, bearer, new_finess, new_rpps
from tests.factories import NANTES, create_professional, create_site, create_territory
from tests.routers.test_errors import assert_problem

NUL = "Dupont\x00secret"
SURROGATE = "Dupont\ud800secret"


def raw_json(body: Any) -> bytes:
    """JSON as a hostile client may send it: `\\ud800` escapes are valid JSON text."""
    return json.dumps(body, ensure_ascii=True).encode()


async def send(
    client: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(
        method,
        path,
        content=raw_json(body),
        headers={**headers, "Content-Type": "application/json"},
    )


def assert_refused_field(response: httpx.Response, location: str) -> None:
    problem = assert_problem(response, 422, "invalid-input")
    assert location in {e["location"] for e in problem["errors"]}, problem
    assert "secret" not in response.text
    assert {e["type"] for e in problem["errors"]} & {"text_nul", "text_surrogate"}


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize("field", ["name", "finess", "departement", "timezone"])
async def test_territory_create_refuses_unstorable_text(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    field: str,
    bad: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = await session.scalar(select(func.count()).select_from(Territory))
    body = {"name": "CPTS", "finess": new_finess(), "departement": "44", field: bad}
    with caplog.at_level(logging.DEBUG):
        response = await send(client, "POST", "/v1/territories", body, admin_headers)
    assert_refused_field(response, f"body.{field}")
    assert "secret" not in caplog.text
    assert await session.scalar(select(func.count()).select_from(Territory)) == before


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
async def test_territory_patch_refuses_unstorable_name(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession, bad: str
) -> None:
    territory = await create_territory(client, admin_headers, name="Kept")
    path = f"/v1/territories/{territory['id']}"
    response = await send(client, "PATCH", path, {"name": bad}, admin_headers)
    assert_refused_field(response, "body.name")
    assert (await client.get(path, headers=admin_headers)).json()["name"] == "Kept"


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize("field", ["name", "address", "postcode", "insee_code", "timezone"])
async def test_site_create_refuses_unstorable_text(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    field: str,
    bad: str,
) -> None:
    territory = await create_territory(client, admin_headers)
    before = await session.scalar(select(func.count()).select_from(Site))
    body = {"territory_id": territory["id"], "name": "MSP", "address": "1 rue", **NANTES}
    response = await send(client, "POST", "/v1/sites", {**body, field: bad}, admin_headers)
    assert_refused_field(response, f"body.{field}")
    assert await session.scalar(select(func.count()).select_from(Site)) == before


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
async def test_site_patch_refuses_unstorable_address(
    client: httpx.AsyncClient, admin_headers: dict[str, str], bad: str
) -> None:
    territory = await create_territory(client, admin_headers)
    site = await create_site(client, admin_headers, territory["id"], address="2 rue")
    path = f"/v1/sites/{site['id']}"
    response = await send(client, "PATCH", path, {"address": bad}, admin_headers)
    assert_refused_field(response, "body.address")
    assert (await client.get(path, headers=admin_headers)).json()["address"] == "2 rue"


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("family_name", None),
        ("given_name", None),
        ("profession", None),
        ("specialty", None),
        ("rpps", None),
        ("languages", "list"),
    ],
)
async def test_professional_create_refuses_unstorable_text(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    field: str,
    value: str | None,
    bad: str,
) -> None:
    before = await session.scalar(select(func.count()).select_from(Professional))
    body: dict[str, Any] = {
        "rpps": new_rpps(),
        "family_name": "Martin",
        "given_name": "Camille",
        "profession": "10",
        field: [bad] if value == "list" else bad,
    }
    response = await send(client, "POST", "/v1/professionals", body, admin_headers)
    assert_refused_field(response, f"body.{field}" + ("[0]" if value == "list" else ""))
    assert await session.scalar(select(func.count()).select_from(Professional)) == before


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
async def test_professional_patch_refuses_unstorable_name(
    client: httpx.AsyncClient, admin_headers: dict[str, str], bad: str
) -> None:
    professional = await create_professional(client, admin_headers, family_name="Kept")
    path = f"/v1/professionals/{professional['id']}"
    response = await send(client, "PATCH", path, {"family_name": bad}, admin_headers)
    assert_refused_field(response, "body.family_name")
    assert (await client.get(path, headers=admin_headers)).json()["family_name"] == "Kept"


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
async def test_client_create_refuses_unstorable_name(
    client: httpx.AsyncClient, admin_headers: dict[str, str], bad: str
) -> None:
    body = {"name": bad, "role": "admin"}
    response = await send(client, "POST", "/v1/clients", body, admin_headers)
    assert_refused_field(response, "body.name")


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize("path", ["/v1/searches", "/v1/dispatch", "/v1/requests"])
async def test_search_bodies_refuse_unstorable_specialty(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    make_key: MakeKey,
    path: str,
    bad: str,
) -> None:
    territory = await create_territory(client, admin_headers)
    key, _ = await make_key("regulator", territory_ids=[uuid.UUID(territory["id"])])
    body = {"location": {"lat": 47.2, "lon": -1.55}, "specialty": bad}
    response = await send(client, "POST", path, body, bearer(key))
    assert_refused_field(response, "body.specialty")


@pytest.mark.parametrize("param", ["action", "resource_type", "resource_id"])
async def test_audit_filters_refuse_nul(
    client: httpx.AsyncClient, admin_headers: dict[str, str], param: str
) -> None:
    params = {param: "a\x00secret"}  # sent as a%00secret
    response = await client.get("/v1/audit-events", params=params, headers=admin_headers)
    assert_refused_field(response, f"query.{param}")


async def test_unknown_key_with_a_surrogate_is_named_without_failing(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"name": "CPTS", "finess": new_finess(), "departement": "44", "\ud800x": 1}
    response = await send(client, "POST", "/v1/territories", body, admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["errors"][0]["location"].startswith("body")


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
async def test_booking_refuses_unstorable_patient_name(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_key: MakeKey, bad: str
) -> None:
    territory = await create_territory(client, admin_headers)
    key, _ = await make_key("regulator", territory_ids=[uuid.UUID(territory["id"])])
    body = {
        "hold_id": str(uuid.uuid4()),
        "patient": {
            "family_name": bad,
            "given_name": "Léa",
            "birth_date": "1990-01-01",
            "phone": "0612345678",
        },
    }
    headers = {**bearer(key), "Idempotency-Key": str(uuid.uuid4())}
    response = await send(client, "POST", "/v1/bookings", body, headers)
    assert_refused_field(response, "body.patient.family_name")
