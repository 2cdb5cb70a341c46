"""Cursors are opaque and tamper-evident: signed by the server, their shape checked whole."""

import base64
import uuid
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from app.core.errors import InvalidInput
from app.core.pagination import (
    decode_cursor,
    decode_id_cursor,
    encode_cursor,
    encode_id_cursor,
    seal_cursor,
)
from tests.conftest import MakeKey, bearer
from tests.factories import create_territory
from tests.routers.test_errors import assert_problem


def unsigned(payload: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def test_a_cursor_round_trips() -> None:
    at, row_id = datetime(2026, 11, 23, 14, 30, tzinfo=UTC), uuid.uuid4()
    assert decode_cursor(encode_cursor(at, row_id)) == (at, row_id)
    assert decode_id_cursor(encode_id_cursor(42)) == 42


@pytest.mark.parametrize(
    "position",
    [
        ["0001-01-01T00:00:00+01:00", str(uuid.uuid4())],  # off the calendar in UTC
        ["2026-12-01T00:00:00+00:00", 123],
        ["2026-12-01T00:00:00", str(uuid.uuid4())],
        ["2026-12-01T00:00:00+00:00", "nope"],
        ["2026-12-01T00:00:00+00:00"],
        {"a": 1},
        "x",
        None,
    ],
)
def test_a_signed_cursor_of_the_wrong_shape_is_refused(position: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_cursor(seal_cursor(position))  # type: ignore[arg-type]
    assert refused.value.extensions["location"] == "cursor"


@pytest.mark.parametrize("position", [[0], [-1], [2**63], [True], ["1"], [1.5], [1, 2]])
def test_an_id_cursor_of_the_wrong_shape_is_refused(position: list[object]) -> None:
    with pytest.raises(InvalidInput):
        decode_id_cursor(seal_cursor(position))


def test_a_tampered_cursor_is_refused() -> None:
    cursor = encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4())
    payload, mac = cursor.split(".")
    forged = unsigned(["2025-01-01T00:00:00+00:00", str(uuid.uuid4())])
    for bad in (f"{forged}.{mac}", payload, f"{payload}.", f"{payload}.{mac[:-2]}AA", "é.é"):
        with pytest.raises(InvalidInput):
            decode_cursor(bad)


@pytest.mark.parametrize("path", ["/v1/territories", "/v1/clients", "/v1/sites", "/v1/slots"])
@pytest.mark.parametrize(
    "payload",
    [
        ["0001-01-01T00:00:00+01:00", str(uuid.uuid4())],
        ["2026-12-01T00:00:00+00:00", 123],
    ],
)
async def test_forged_cursors_are_422_on_every_list(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    make_key: MakeKey,
    path: str,
    payload: list[object],
) -> None:
    headers = admin_headers
    if path == "/v1/slots":
        key, _ = await make_key("practice_software")
        headers = bearer(key)
    for cursor in (unsigned(payload), seal_cursor(payload)):
        response = await client.get(path, params={"cursor": cursor}, headers=headers)
        assert assert_problem(response, 422, "invalid-input")["location"] == "cursor"


async def test_a_territories_cursor_is_no_audit_cursor(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for _ in range(2):
        await create_territory(client, admin_headers)
    page = await client.get("/v1/territories", params={"limit": 1}, headers=admin_headers)
    cursor = page.json()["next_cursor"]
    assert cursor
    listed = await client.get("/v1/territories", params={"cursor": cursor}, headers=admin_headers)
    assert listed.status_code == 200
    response = await client.get(
        "/v1/audit-events", params={"cursor": cursor}, headers=admin_headers
    )
    assert assert_problem(response, 422, "invalid-input")["location"] == "cursor"
