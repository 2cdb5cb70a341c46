"""The slot endpoints over HTTP: shapes, scoping, idempotency, limits and a full 5,000 batch."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import problem_type
from tests.conftest import MakeKey, bearer
from tests.services.slots.test_intake import World, build_world, item

# Real time: the endpoints use the current time for the "1 day back, 60 days ahead" rule.
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).replace(
    hour=8, minute=0, second=0, microsecond=0
)


def slot(world: World, external_id: str, hours: float = 0, minutes: int = 20) -> dict[str, Any]:
    """A valid item starting `hours` after 08:00 UTC tomorrow."""
    return item(world, external_id, (TOMORROW + timedelta(hours=hours)).isoformat(), minutes)


@pytest.fixture
async def world(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_key: MakeKey
) -> World:
    return await build_world(client, admin_headers, make_key)


async def put(client: httpx.AsyncClient, key: str, *items: Any, **headers: str) -> httpx.Response:
    return await client.put("/v1/slots", json={"slots": list(items)}, headers=bearer(key) | headers)


async def test_put_answers_one_result_per_item_with_counts(
    client: httpx.AsyncClient, world: World
) -> None:
    bad = slot(world, "b") | {"start": "2030-01-01T10:00:00"}
    response = await put(client, world.software_key, slot(world, "a"), bad)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["created", "rejected"]
    assert body["results"][0]["id"]
    assert body["results"][1]["error"] == {
        "type": problem_type("timestamp-without-offset"),
        "detail": body["results"][1]["error"]["detail"],
        "location": "slots[1].start",
    }
    assert body["counts"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "conflict": 0,
    }


async def test_put_by_a_regulator_is_403(
    client: httpx.AsyncClient, world: World, make_key: MakeKey
) -> None:
    key, _ = await make_key("regulator", territory_ids=[world.territory_id])
    response = await put(client, key, slot(world, "a"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


async def test_more_than_5000_items_is_422_before_any_work(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    response = await put(client, world.software_key, *([slot(world, "x")] * 5001))
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.slots"
    assert await session.scalar(text("SELECT count(*) FROM slots")) == 0


async def test_body_over_the_size_limit_is_413(client: httpx.AsyncClient, world: World) -> None:
    padding = "x" * (9 * 1024 * 1024)
    response = await client.put(
        "/v1/slots",
        content=b'{"slots": [], "pad": "' + padding.encode() + b'"}',
        headers=bearer(world.software_key) | {"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["type"] == problem_type("payload-too-large")


async def test_a_5000_item_batch_lands_in_one_call(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    # 5,000 back-to-back 5-minute slots: about 17 days of one professional's agenda.
    items = [slot(world, f"s{i}", hours=i / 12, minutes=5) for i in range(5000)]
    response = await put(client, world.software_key, *items)
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["created"] == 5000
    events = await session.scalar(
        text("SELECT count(*) FROM outbox_events WHERE type = 'slot.created'")
    )
    assert events == 5000
    again = await put(client, world.software_key, *items)
    assert again.json()["counts"]["unchanged"] == 5000


async def test_get_lists_only_own_slots_with_filters_and_pages(
    client: httpx.AsyncClient, world: World
) -> None:
    await put(client, world.software_key, *(slot(world, f"m{i}", hours=i) for i in range(3)))
    await put(client, world.other_software_key, slot(world, "theirs", hours=5))
    headers = bearer(world.software_key)
    first = await client.get("/v1/slots", params={"limit": 2}, headers=headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [s["external_id"] for s in page["items"]] == ["m0", "m1"]
    assert page["items"][0]["professional_rpps"] == world.rpps
    second = await client.get(
        "/v1/slots", params={"limit": 2, "cursor": page["next_cursor"]}, headers=headers
    )
    assert [s["external_id"] for s in second.json()["items"]] == ["m2"]
    assert second.json()["next_cursor"] is None
    window = {
        "start": (TOMORROW + timedelta(minutes=30)).isoformat(),
        "end": (TOMORROW + timedelta(hours=1, minutes=30)).isoformat(),
        "professional_rpps": world.rpps,
        "status": "free",
    }
    filtered = await client.get("/v1/slots", params=window, headers=headers)
    assert [s["external_id"] for s in filtered.json()["items"]] == ["m1"]
    naive = await client.get("/v1/slots", params={"start": "2030-01-01T00:00:00"}, headers=headers)
    assert naive.status_code == 422


async def test_two_clients_cannot_touch_each_others_slots(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    mine = (await put(client, world.software_key, slot(world, "shared-id"))).json()
    # The same external id from another source is another slot (and here overlaps: rejected).
    theirs = await put(client, world.other_software_key, slot(world, "shared-id"))
    assert theirs.json()["results"][0]["error"]["type"] == problem_type("slot-overlap")
    deleted = await client.delete("/v1/slots/shared-id", headers=bearer(world.other_software_key))
    assert deleted.status_code == 404
    listed = await client.get("/v1/slots", headers=bearer(world.other_software_key))
    assert listed.json()["items"] == []
    status = await session.scalar(
        text("SELECT status FROM slots WHERE id = :id"), {"id": mine["results"][0]["id"]}
    )
    assert status == "free"


async def test_delete_cancels_a_free_slot_and_refuses_a_booked_one(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    body = (await put(client, world.software_key, slot(world, "f"), slot(world, "b", 1))).json()
    await session.execute(
        text("UPDATE slots SET status = 'booked' WHERE id = :id"),
        {"id": body["results"][1]["id"]},
    )
    headers = bearer(world.software_key)
    assert (await client.delete("/v1/slots/f", headers=headers)).status_code == 204
    assert (await client.delete("/v1/slots/f", headers=headers)).status_code == 204
    refused = await client.delete("/v1/slots/b", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["type"] == problem_type("slot-not-free")
    cancelled = await client.get("/v1/slots", params={"status": "cancelled"}, headers=headers)
    assert [s["external_id"] for s in cancelled.json()["items"]] == ["f"]
    events = await session.scalar(
        text("SELECT count(*) FROM outbox_events WHERE type = 'slot.cancelled'")
    )
    assert events == 1


async def test_same_idempotency_key_replays_and_another_body_is_422(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    key = {"Idempotency-Key": "push-1"}
    first = await put(client, world.software_key, slot(world, "a"), **key)
    replay = await put(client, world.software_key, slot(world, "a"), **key)
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.json()["results"][0]["status"] == "created"
    assert replay.headers["Idempotent-Replayed"] == "true"
    reused = await put(client, world.software_key, slot(world, "other"), **key)
    assert reused.status_code == 422
    assert reused.json()["type"] == problem_type("idempotency-key-reused")
    assert await session.scalar(text("SELECT count(*) FROM slots")) == 1


async def test_sync_over_http_cancels_missing_and_reports_them(
    client: httpx.AsyncClient, world: World
) -> None:
    await put(client, world.software_key, slot(world, "keep"), slot(world, "drop", 1))
    response = await client.post(
        "/v1/slots/sync",
        json={
            "window": {
                "start": TOMORROW.isoformat(),
                "end": (TOMORROW + timedelta(days=1)).isoformat(),
            },
            "slots": [slot(world, "keep")],
        },
        headers=bearer(world.software_key) | {"Idempotency-Key": "sync-1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["unchanged"]
    assert [c["external_id"] for c in body["cancelled"]] == ["drop"]
    assert body["untouched"] == []
    assert body["counts"]["cancelled"] == 1


async def test_sync_window_without_offset_is_422(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/v1/slots/sync",
        json={
            "window": {"start": "2030-01-01T00:00:00", "end": "2030-01-02T00:00:00+01:00"},
            "slots": [],
        },
        headers=bearer(world.software_key),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.window.start"


ODD_ITEMS: list[tuple[str, dict[str, Any], str]] = [
    ("nul in external_id", {"external_id": "a\u0000b"}, "slots[0].external_id"),
    ("lone surrogate in external_id", {"external_id": "\ud800"}, "slots[0].external_id"),
    ("nul in booking_url", {"booking_url": "https://x.test/\u0000"}, "slots[0].booking_url"),
    ("unix time for start", {"start": 1_900_000_000}, "slots[0].start"),
    ("year 1 pushed before the calendar", {"start": "0001-01-01T00:00:00+01:00"}, "slots[0].start"),
    ("year 9999 pushed past it", {"end": "9999-12-31T23:30:00-01:00"}, "slots[0].end"),
    ("unknown key with a lone surrogate", {"\ud800": 1}, "slots[0]"),
]


@pytest.mark.parametrize(
    ("change", "location"), [(c, loc) for _, c, loc in ODD_ITEMS], ids=[n for n, *_ in ODD_ITEMS]
)
async def test_odd_item_is_rejected_alone_not_a_500(
    client: httpx.AsyncClient,
    world: World,
    session: AsyncSession,
    change: dict[str, Any],
    location: str,
) -> None:
    # json.dumps, not httpx's encoder: the body must carry a lone surrogate as `\ud800`.
    body = json.dumps({"slots": [slot(world, "bad") | change, slot(world, "good", 1)]})
    response = await client.put(
        "/v1/slots",
        content=body,
        headers=bearer(world.software_key) | {"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    bad, good = response.json()["results"]
    assert bad["status"] == "rejected"
    assert bad["error"]["location"] == location
    assert good["status"] == "created"
    assert await session.scalar(text("SELECT count(*) FROM slots")) == 1


@pytest.mark.parametrize("external_id", ["a%00b", "%ED%A0%80", "%FF"])
async def test_delete_of_an_impossible_external_id_is_4xx_not_a_500(
    client: httpx.AsyncClient, world: World, external_id: str
) -> None:
    response = await client.delete(f"/v1/slots/{external_id}", headers=bearer(world.software_key))
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


async def test_sync_listing_an_impossible_external_id_still_answers(
    client: httpx.AsyncClient, world: World
) -> None:
    await put(client, world.software_key, slot(world, "drop"))
    response = await client.post(
        "/v1/slots/sync",
        content=json.dumps(
            {
                "window": {
                    "start": TOMORROW.isoformat(),
                    "end": (TOMORROW + timedelta(days=1)).isoformat(),
                },
                "slots": [{"external_id": "a\u0000"}, {"external_id": "\udc80"}],
            }
        ),
        headers=bearer(world.software_key) | {"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["rejected", "rejected"]
    assert [c["external_id"] for c in body["cancelled"]] == ["drop"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/slots", {"start": "0001-01-01T00:00:00+01:00"}),
        ("/v1/slots", {"end": "9999-12-31T23:30:00-01:00"}),
    ],
)
async def test_list_with_a_window_past_the_calendar_is_422(
    client: httpx.AsyncClient, world: World, path: str, params: dict[str, str]
) -> None:
    response = await client.get(path, params=params, headers=bearer(world.software_key))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_sync_window_past_the_calendar_is_422(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        "/v1/slots/sync",
        json={
            "window": {"start": "0001-01-01T00:00:00+01:00", "end": TOMORROW.isoformat()},
            "slots": [],
        },
        headers=bearer(world.software_key),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.window.start"


@pytest.mark.parametrize("value", ["0.5", "1700000000", "2026-01-01", "2026-01-01T10:00:00"])
@pytest.mark.parametrize("param", ["start", "end"])
async def test_list_slots_takes_only_timestamps_with_an_offset(
    client: httpx.AsyncClient, world: World, param: str, value: str
) -> None:
    response = await client.get(
        "/v1/slots", params={param: value}, headers=bearer(world.software_key)
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["location"] == f"query.{param}"
