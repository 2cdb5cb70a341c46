"""API keys: 401 without a valid one, 403 outside the role; keys shown once and stored hashed."""

import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.db import get_session
from app.main import create_app
from app.models import AuditEvent, Professional, Site, Territory
from tests.conftest import MakeKey, bearer, new_finess, new_rpps
from tests.factories import NANTES, create_professional, create_site, create_territory
from tests.routers.test_errors import assert_problem

NON_ADMIN_ROLES = ["regulator", "practice_software", "sas_platform"]


async def test_request_without_key_is_401_with_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/territories")
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer snp_00000000_not-a-real-key",
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "snp_00000000_no-scheme",
        "Bearer\tsnp",
    ],
)
async def test_request_with_a_wrong_key_is_401(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get("/v1/territories", headers={"Authorization": authorization})
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_key_of_another_client_with_one_character_changed_is_401(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    key, _ = await make_key("admin")
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = await client.get("/v1/territories", headers=bearer(tampered))
    assert_problem(response, 401, "unauthenticated")


async def test_bearer_scheme_is_case_insensitive(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    key, _ = await make_key("admin")
    response = await client.get("/v1/territories", headers={"Authorization": f"bearer {key}"})
    assert response.status_code == 200


async def test_revoked_key_is_401(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_key: MakeKey
) -> None:
    key, client_id = await make_key("admin")
    assert (await client.get("/v1/territories", headers=bearer(key))).status_code == 200
    revoked = await client.delete(f"/v1/clients/{client_id}", headers=admin_headers)
    assert revoked.status_code == 204
    response = await client.get("/v1/territories", headers=bearer(key))
    assert_problem(response, 401, "unauthenticated")


@pytest.fixture
async def caching_client(
    settings: Settings, engine: AsyncEngine, session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    """An app that caches keys for a minute, as production does, on the test's session."""
    app: FastAPI = create_app(settings.model_copy(update={"api_key_cache_seconds": 60}))
    app.state.engine = engine

    async def test_session() -> AsyncIterator[AsyncSession]:
        yield session
        await session.commit()

    app.dependency_overrides[get_session] = test_session
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_revoked_key_is_401_at_once_despite_the_key_cache(
    caching_client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    admin_key, _ = await make_key("admin")
    key, client_id = await make_key("admin")
    assert (await caching_client.get("/v1/territories", headers=bearer(key))).status_code == 200
    revoked = await caching_client.delete(f"/v1/clients/{client_id}", headers=bearer(admin_key))
    assert revoked.status_code == 204
    response = await caching_client.get("/v1/territories", headers=bearer(key))
    assert_problem(response, 401, "unauthenticated")


async def test_rotated_key_is_401_at_once_despite_the_key_cache(
    caching_client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    admin_key, _ = await make_key("admin")
    key, client_id = await make_key("admin")
    assert (await caching_client.get("/v1/territories", headers=bearer(key))).status_code == 200
    rotated = await caching_client.post(
        f"/v1/clients/{client_id}/rotate-key", headers=bearer(admin_key)
    )
    assert rotated.status_code == 200, rotated.text
    response = await caching_client.get("/v1/territories", headers=bearer(key))
    assert_problem(response, 401, "unauthenticated")
    new_key = rotated.json()["api_key"]
    assert (await caching_client.get("/v1/territories", headers=bearer(new_key))).status_code == 200


async def test_a_previous_key_is_cached_no_longer_than_its_grace(
    caching_client: httpx.AsyncClient,
    make_key: MakeKey,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("app.core.auth.time.monotonic", lambda: clock[0])
    admin_key, _ = await make_key("admin")
    key, client_id = await make_key("admin")
    rotated = await caching_client.post(
        f"/v1/clients/{client_id}/rotate-key",
        json={"grace_seconds": 1},
        headers=bearer(admin_key),
    )
    assert rotated.status_code == 200, rotated.text
    assert (await caching_client.get("/v1/territories", headers=bearer(key))).status_code == 200
    # The grace ends (as if a second had passed); the 60 s cache must not outlive it.
    await session.execute(
        text(
            "UPDATE api_clients SET previous_key_expires_at = now() - interval '1 second' "
            "WHERE id = :id"
        ),
        {"id": client_id},
    )
    clock[0] += 1.5
    response = await caching_client.get("/v1/territories", headers=bearer(key))
    assert_problem(response, 401, "unauthenticated")


def admin_calls(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None]]:
    territory, professional, site, api_client = (
        ids["territory"],
        ids["professional"],
        ids["site"],
        ids["client"],
    )
    return [
        ("GET", "/v1/territories", None),
        ("POST", "/v1/territories", {"name": "X", "finess": new_finess(), "departement": "44"}),
        ("GET", f"/v1/territories/{territory}", None),
        ("PATCH", f"/v1/territories/{territory}", {"name": "renamed"}),
        ("GET", "/v1/professionals", None),
        (
            "POST",
            "/v1/professionals",
            {"rpps": new_rpps(), "family_name": "A", "given_name": "B", "profession": "10"},
        ),
        ("GET", f"/v1/professionals/{professional}", None),
        ("PATCH", f"/v1/professionals/{professional}", {"family_name": "renamed"}),
        ("DELETE", f"/v1/professionals/{professional}", None),
        ("GET", "/v1/sites", None),
        (
            "POST",
            "/v1/sites",
            {"territory_id": territory, "name": "S", "address": "A", **NANTES},
        ),
        ("GET", f"/v1/sites/{site}", None),
        ("PATCH", f"/v1/sites/{site}", {"name": "renamed"}),
        ("DELETE", f"/v1/sites/{site}", None),
        ("GET", "/v1/clients", None),
        ("POST", "/v1/clients", {"name": "sneaky", "role": "admin"}),
        ("GET", f"/v1/clients/{api_client}", None),
        ("DELETE", f"/v1/clients/{api_client}", None),
        ("POST", f"/v1/clients/{api_client}/rotate-key", {"grace_seconds": 60}),
        ("POST", f"/v1/clients/{api_client}/transfer-slots", {"to_client_id": api_client}),
        ("GET", "/v1/audit-events", None),
    ]


ADMIN_ENDPOINTS = [
    f"{m} {p}"
    for m, p, _ in admin_calls(
        dict.fromkeys(("territory", "professional", "site", "client"), "{id}")
    )
]


async def snapshot(session: AsyncSession) -> tuple[Any, ...]:
    """What an admin call could change: row counts and every row's update time."""
    counts = []
    for model in (Territory, Professional, Site):
        counts.append(await session.scalar(select(func.count()).select_from(model)))
        counts.append(await session.scalar(select(func.max(model.updated_at))))
    counts.append(await session.scalar(text("SELECT count(*) FROM api_clients WHERE active")))
    counts.append(
        await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action != "audit.read")
        )
    )
    counts.append(await session.scalar(text("SELECT count(*) FROM professionals WHERE active")))
    counts.append(await session.scalar(text("SELECT count(*) FROM sites WHERE active")))
    return tuple(counts)


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
@pytest.mark.parametrize("endpoint", range(len(ADMIN_ENDPOINTS)), ids=ADMIN_ENDPOINTS)
async def test_non_admin_role_on_admin_endpoint_is_403_and_changes_nothing(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    make_key: MakeKey,
    session: AsyncSession,
    role: str,
    endpoint: int,
) -> None:
    territory = await create_territory(client, admin_headers)
    professional = await create_professional(client, admin_headers)
    site = await create_site(client, admin_headers, territory["id"], [professional["id"]])
    ids = {
        "territory": territory["id"],
        "professional": professional["id"],
        "site": site["id"],
        "client": str((await make_key("admin"))[1]),
    }
    key, _ = await make_key(
        role,
        territory_ids=[uuid.UUID(territory["id"])],
        professional_ids=[uuid.UUID(professional["id"])] if role == "practice_software" else None,
    )
    method, path, body = admin_calls(ids)[endpoint]
    before = await snapshot(session)
    response = await client.request(method, path, json=body, headers=bearer(key))
    problem = assert_problem(response, 403, "forbidden")
    assert "admin" in problem["detail"]
    assert await snapshot(session) == before


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
async def test_non_admin_role_with_an_invalid_body_is_still_403(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_key: MakeKey, role: str
) -> None:
    territory = await create_territory(client, admin_headers)
    key, _ = await make_key(role, territory_ids=[uuid.UUID(territory["id"])])
    response = await client.post("/v1/professionals", json={"rpps": "x"}, headers=bearer(key))
    assert_problem(response, 403, "forbidden")


async def test_api_key_is_shown_once_and_never_listed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    created = await client.post(
        "/v1/clients", json={"name": "Agenda", "role": "admin"}, headers=admin_headers
    )
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    key = created.json()["api_key"]
    prefix = created.json()["key_prefix"]
    assert key.startswith(prefix + "_")
    listed = await client.get("/v1/clients", params={"limit": 500}, headers=admin_headers)
    assert listed.status_code == 200
    assert created.json()["id"] in listed.text
    assert key not in listed.text
    assert key.rsplit("_", 1)[1] not in listed.text
    assert all("api_key" not in item for item in listed.json()["items"])
    audit = await client.get("/v1/audit-events", params={"limit": 500}, headers=admin_headers)
    assert key.rsplit("_", 1)[1] not in audit.text


async def test_api_key_is_stored_only_as_a_hash(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    created = await client.post(
        "/v1/clients",
        json={
            "name": "Agenda",
            "role": "practice_software",
            "webhook_url": "https://93.184.215.14/h",
        },
        headers=admin_headers,
    )
    key = created.json()["api_key"]
    secret_part = key.rsplit("_", 1)[1]
    # Every column of every client row, as text: the secret part of the key is nowhere.
    leaks = await session.scalar(
        text("SELECT count(*) FROM api_clients c WHERE strpos(c::text, :secret) > 0"),
        {"secret": secret_part},
    )
    assert leaks == 0
    audit_leaks = await session.scalar(
        text("SELECT count(*) FROM audit_events e WHERE strpos(e::text, :secret) > 0"),
        {"secret": secret_part},
    )
    assert audit_leaks == 0
    stored = await session.scalar(
        text("SELECT key_hash FROM api_clients WHERE id = :id"), {"id": created.json()["id"]}
    )
    assert stored == hashlib.sha256(key.encode()).hexdigest()
