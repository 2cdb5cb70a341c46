"""An Idempotency-Key never changes how a body is judged: JSON that orjson cannot write (an
integer beyond 64 bits, a lone surrogate) is answered as it would be without a key."""

import json
from typing import Any

import httpx
import pytest

from tests.conftest import MakeKey, bearer
from tests.routers.test_slots import slot
from tests.services.slots.test_intake import World, build_world


@pytest.fixture
async def world(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_key: MakeKey
) -> World:
    return await build_world(client, admin_headers, make_key)


async def put_raw(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], key: str | None
) -> httpx.Response:
    headers = bearer(world.software_key) | {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    # ensure_ascii: a lone surrogate goes out as the JSON escape `\ud800`, as a client may send.
    content = json.dumps(body, ensure_ascii=True).encode()
    return await client.put("/v1/slots", content=content, headers=headers)


@pytest.mark.parametrize(
    "odd",
    [2**64, -(2**70), {"external_id": "x\ud800"}, {"external_id": "ok", "site_id": 2**64}],
    ids=["uint64-overflow", "negative-overflow", "lone-surrogate", "big-int-in-field"],
)
async def test_push_with_a_key_answers_as_without_one(
    client: httpx.AsyncClient, world: World, odd: Any
) -> None:
    body = {"slots": [odd, slot(world, "fine")]}
    keyed = await put_raw(client, world, body, key="odd-1")
    assert keyed.status_code == 200, keyed.text
    results = keyed.json()["results"]
    assert results[0]["status"] == "rejected"
    assert results[0]["error"]["location"].startswith("slots[0]")
    assert results[1]["status"] == "created"
    replay = await put_raw(client, world, body, key="odd-1")
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == keyed.json()
    # Without a key the same body is judged alike (the slot now exists: unchanged).
    unkeyed = await put_raw(client, world, body, key=None)
    assert unkeyed.json()["results"][0] == results[0]
    assert unkeyed.json()["results"][1]["status"] == "unchanged"


async def test_another_odd_body_under_the_same_key_is_422(
    client: httpx.AsyncClient, world: World
) -> None:
    await put_raw(client, world, {"slots": [2**64]}, key="odd-2")
    reused = await put_raw(client, world, {"slots": [2**65]}, key="odd-2")
    assert reused.status_code == 422
    assert reused.json()["location"] == "Idempotency-Key"
