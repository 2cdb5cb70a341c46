"""Every error is RFC 9457 problem+json with a stable `type`, whatever produced it."""

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.db import create_sessionmaker
from app.main import create_app
from app.models import Professional
from tests.conftest import new_rpps
from tests.factories import create_professional

PROBLEM = "application/problem+json"
URN = "urn:snp-dispatch:problem:"


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == URN + slug
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


async def test_unknown_id_is_404_problem(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    missing = uuid.uuid4()
    response = await client.get(f"/v1/professionals/{missing}", headers=admin_headers)
    body = assert_problem(response, 404, "not-found")
    assert str(missing) in body["detail"]
    assert body["instance"] == f"/v1/professionals/{missing}"


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "not-found")


async def test_wrong_method_is_405_problem_with_allow(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.put("/v1/territories", json={}, headers=admin_headers)
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"]


async def test_invalid_body_is_422_with_one_error_per_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {"rpps": "123", "family_name": "", "given_name": "Camille", "profession": "10"}
    response = await client.post("/v1/professionals", json=body, headers=admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    locations = {e["location"] for e in problem["errors"]}
    assert locations == {"body.rpps", "body.family_name"}
    assert all(e["message"] and e["type"] for e in problem["errors"])
    assert "body." in problem["detail"]


async def test_validation_problem_does_not_echo_the_input(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    secret = "Dupont-the-patient-name"
    body = {"rpps": secret, "family_name": "M", "given_name": "C", "profession": "10"}
    response = await client.post("/v1/professionals", json=body, headers=admin_headers)
    assert_problem(response, 422, "invalid-input")
    assert secret not in response.text


async def test_unknown_field_is_422_naming_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = {
        "rpps": new_rpps(),
        "family_name": "Martin",
        "given_name": "Camille",
        "profession": "10",
        "nickname": "Cam",
    }
    response = await client.post("/v1/professionals", json=body, headers=admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    assert [e["location"] for e in problem["errors"]] == ["body.nickname"]


async def test_malformed_json_is_422_problem(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/professionals",
        content=b'{"rpps": ',
        headers={**admin_headers, "content-type": "application/json"},
    )
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["errors"][0]["type"] == "json_invalid"


async def test_bad_path_parameter_is_422_naming_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/sites/not-a-uuid", headers=admin_headers)
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["errors"][0]["location"] == "path.site_id"


async def test_duplicate_rpps_is_409_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    first = await create_professional(client, admin_headers)
    body = {"rpps": first["rpps"], "family_name": "B", "given_name": "C", "profession": "10"}
    response = await client.post("/v1/professionals", json=body, headers=admin_headers)
    problem = assert_problem(response, 409, "conflict")
    assert problem["location"] == "body.rpps"
    count = await session.scalar(select(func.count()).where(Professional.rpps == first["rpps"]))
    assert count == 1


@pytest.fixture
async def small_body_client(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings.model_copy(update={"max_body_bytes": 1024}))
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_body_over_the_limit_is_413_problem(small_body_client: httpx.AsyncClient) -> None:
    response = await small_body_client.post("/v1/professionals", json={"family_name": "x" * 2000})
    body = assert_problem(response, 413, "payload-too-large")
    assert "1024" in body["detail"]


async def test_streamed_body_over_the_limit_is_413_problem(
    small_body_client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b" " * 512

    response = await small_body_client.post(
        "/v1/professionals", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload-too-large")


async def test_body_under_the_limit_reaches_the_endpoint(
    small_body_client: httpx.AsyncClient,
) -> None:
    response = await small_body_client.post("/v1/professionals", json={"rpps": "1"})
    assert_problem(response, 401, "unauthenticated")


def forged_cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "",
        forged_cursor(["2026-01-01T00:00:00", str(uuid.uuid4())]),
        forged_cursor(["2026-01-01T00:00:00+00:00", "nope"]),
        forged_cursor({"a": 1}),
        forged_cursor([1, 2]),
        forged_cursor("x"),
    ],
)
async def test_cursor_not_issued_by_the_list_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cursor: str
) -> None:
    response = await client.get(
        "/v1/professionals", params={"cursor": cursor}, headers=admin_headers
    )
    if cursor == "":
        assert response.status_code == 200  # an empty cursor is the first page
        return
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["location"] == "cursor"


async def test_unexpected_failure_is_500_problem_without_internals(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2 at /srv/app/secret.py")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom")
    assert_problem(response, 500, "internal-error")
    assert "hunter2" not in response.text
    assert "secret.py" not in response.text


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/professionals/{id}", {"GET", "PATCH", "DELETE"}),
        ("POST", "/v1/sites/{id}", {"GET", "PATCH", "DELETE"}),
        ("PUT", "/v1/territories", {"GET", "POST"}),
        ("PATCH", "/v1/slots", {"GET", "PUT"}),
        ("GET", "/v1/bookings", {"POST"}),
    ],
)
async def test_405_lists_every_allowed_method(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    allowed: set[str],
) -> None:
    response = await client.request(
        method, path.format(id=uuid.uuid4()), json={}, headers=admin_headers
    )
    assert_problem(response, 405, "method-not-allowed")
    assert set(response.headers["allow"].split(", ")) == allowed
