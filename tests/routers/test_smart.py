"""GET /smart/$bulk-publish and its files: the spec's shapes, FHIR R4 on every line, which slots
are published (free, offered, in the window, with a label the territory publishes) and `_since`."""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.routers.smart import stream_connections
from app.services.fhir.resources import role_id
from app.services.smart.resources import BOOKING_DEEP_LINK, BOOKING_PHONE
from tests.dispatch_factories import World, add_slots, make_world
from tests.routers.test_errors import assert_problem
from tests.services.smart.spec import check_file, check_manifest

DEPARTEMENT = "2A"  # no other test publishes in Corse-du-Sud
PHONE = "+33495000000"


@pytest.fixture
def app(app: FastAPI, connection: AsyncConnection) -> FastAPI:
    """The files read through the test's connection (its data is never committed)."""

    @asynccontextmanager
    async def test_connection() -> AsyncIterator[AsyncConnection]:
        yield connection

    def connect() -> Callable[[], AbstractAsyncContextManager[AsyncConnection]]:
        return test_connection

    app.dependency_overrides[stream_connections] = connect
    return app


@pytest.fixture
async def world(session: AsyncSession) -> World:
    world = await make_world(session, professionals=2)
    await session.execute(
        text("UPDATE territories SET departement = :d, phone = :p WHERE id = :t"),
        {"d": DEPARTEMENT, "p": PHONE, "t": world.territory_id},
    )
    return world


async def set_labels(session: AsyncSession, slot_id: uuid.UUID, *labels: str) -> None:
    await session.execute(
        text("UPDATE slots SET labels = :l WHERE id = :id"), {"l": list(labels), "id": slot_id}
    )


async def fetch(client: httpx.AsyncClient, kind: str, **params: str) -> list[dict[str, Any]]:
    response = await client.get(f"/smart/{DEPARTEMENT}/{kind}.ndjson", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    assert response.headers["cache-control"] == "public, max-age=60"
    return check_file(kind, response.content)


async def published_slots(client: httpx.AsyncClient, **params: str) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in await fetch(client, "Slot", **params)}


async def test_manifest_lists_three_files_per_departement_shaped_as_the_spec(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    slot_id = (await add_slots(session, world, 1))[0]
    await set_labels(session, slot_id, "PUBLIC")
    response = await client.get("/smart/$bulk-publish", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=60"
    body = response.json()
    check_manifest(body)
    assert body["request"] == "http://test/smart/$bulk-publish"
    mine = [o for o in body["output"] if o["extension"]["state"] == [DEPARTEMENT]]
    assert sorted(o["type"] for o in mine) == ["Location", "Schedule", "Slot"]
    # No Accept header: the same manifest.
    assert (await client.get("/smart/$bulk-publish")).json()["output"] == body["output"]
    # Each file is at its URL, valid, and they reference each other.
    files: dict[str, list[dict[str, Any]]] = {}
    for item in mine:
        got = await client.get(urlsplit(item["url"]).path)
        assert got.status_code == 200
        files[item["type"]] = check_file(item["type"], got.content)
    (location,) = files["Location"]
    assert location["id"] == str(world.site_id)
    assert location["address"]["state"] == DEPARTEMENT
    assert location["address"]["postalCode"] == "44000"
    assert location["telecom"] == [{"system": "phone", "value": PHONE}]
    schedule_ids = {s["id"] for s in files["Schedule"]}
    assert schedule_ids == {role_id(p, world.site_id) for p in world.professional_ids}
    assert all(
        s["actor"] == [{"reference": f"Location/{world.site_id}"}] for s in files["Schedule"]
    )
    (slot,) = files["Slot"]
    assert slot["id"] == str(slot_id)
    assert slot["schedule"]["reference"].removeprefix("Schedule/") in schedule_ids
    assert slot["status"] == "free"
    assert slot["start"].endswith(("+01:00", "+02:00"))  # the site's zone


async def test_only_published_labels_appear_by_default_public(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    public, snp, cpts, pro, both, pro_too = await add_slots(session, world, 3)
    await set_labels(session, pro_too, "PRO", "CPTS")
    await set_labels(session, public, "PUBLIC")
    await set_labels(session, snp, "SNP")
    await set_labels(session, cpts, "CPTS")
    await set_labels(session, pro, "PRO")
    await set_labels(session, both, "PUBLIC", "SNP")
    assert set(await published_slots(client)) == {str(public), str(both)}


async def test_a_territory_publishing_snp_publishes_its_snp_slots(
    client: httpx.AsyncClient, world: World, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    public, snp, cpts, pro = await add_slots(session, world, 2)
    await set_labels(session, public, "PUBLIC")
    await set_labels(session, snp, "SNP")
    await set_labels(session, cpts, "CPTS")
    await set_labels(session, pro, "PRO")
    url = f"/v1/territories/{world.territory_id}"
    response = await client.patch(
        url, json={"smart_labels": ["SNP", "PUBLIC", "SNP"]}, headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["smart_labels"] == ["PUBLIC", "SNP"]
    assert set(await published_slots(client)) == {str(public), str(snp)}
    # Nothing published: the département leaves the manifest, its files are gone.
    response = await client.patch(url, json={"smart_labels": []}, headers=admin_headers)
    assert response.json()["smart_labels"] == []
    manifest = (await client.get("/smart/$bulk-publish")).json()
    assert all(o["extension"]["state"] != [DEPARTEMENT] for o in manifest["output"])
    gone = await client.get(f"/smart/{DEPARTEMENT}/Slot.ndjson")
    assert_problem(gone, 404, "not-found")


async def test_territory_labels_are_validated(
    client: httpx.AsyncClient, world: World, admin_headers: dict[str, str]
) -> None:
    url = f"/v1/territories/{world.territory_id}"
    for bad in (["PATIENT"], None, "PUBLIC"):
        response = await client.patch(url, json={"smart_labels": bad}, headers=admin_headers)
        assert_problem(response, 422, "invalid-input")
        assert "smart_labels" in response.text
    fetched = await client.get(url, headers=admin_headers)
    assert fetched.json()["smart_labels"] == ["PUBLIC"]  # the default, untouched


async def test_held_booked_started_and_late_slots_are_not_published(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    free, held, booked, lapsed = await add_slots(session, world, 2)  # 2 per professional
    far = (await add_slots(session, world, 1, start=now + timedelta(days=4)))[0]
    for slot_id in (free, held, booked, lapsed, far):
        await set_labels(session, slot_id, "PUBLIC")
    await session.execute(
        text(
            "UPDATE slots SET status = 'held', hold_expires_at = now() + interval '5 min' "
            "WHERE id = :h"
        ),
        {"h": held},
    )
    await session.execute(text("UPDATE slots SET status = 'booked' WHERE id = :b"), {"b": booked})
    await session.execute(
        text(
            "UPDATE slots SET status = 'held', hold_expires_at = now() - interval '1 min' "
            "WHERE id = :l"
        ),
        {"l": lapsed},
    )
    slots = await published_slots(client)
    # A lapsed hold is free again at once (slots.rules.free); day + 4 is past the window.
    assert set(slots) == {str(free), str(lapsed)}


async def test_booking_link_and_phone_extensions(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    linked, plain = (await add_slots(session, world, 1))[:2]
    for slot_id in (linked, plain):
        await set_labels(session, slot_id, "PUBLIC")
    await session.execute(
        text("UPDATE slots SET booking_url = 'https://rdv.example.fr/c/42' WHERE id = :id"),
        {"id": linked},
    )
    slots = await published_slots(client)
    assert slots[str(linked)]["extension"] == [
        {"url": BOOKING_DEEP_LINK, "valueUrl": "https://rdv.example.fr/c/42"},
        {"url": BOOKING_PHONE, "valueString": PHONE},
    ]
    assert slots[str(plain)]["extension"] == [{"url": BOOKING_PHONE, "valueString": PHONE}]
    await session.execute(
        text("UPDATE territories SET phone = NULL WHERE id = :t"), {"t": world.territory_id}
    )
    assert "extension" not in (await published_slots(client))[str(plain)]
    (location,) = await fetch(client, "Location")
    assert "telecom" not in location


async def test_since_returns_only_the_changed_slots_free_or_busy(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    unchanged, booked, reopened, lapsed = await add_slots(session, world, 2)
    for slot_id in (unchanged, booked, reopened, lapsed):
        await set_labels(session, slot_id, "PUBLIC")
    # Everything was written an hour ago, then two slots changed just now.
    hour_ago = "now() - interval '1 hour'"
    await session.execute(
        text(f"UPDATE territories SET updated_at = {hour_ago} WHERE id = :t"),
        {"t": world.territory_id},
    )
    await session.execute(
        text(f"UPDATE sites SET updated_at = {hour_ago} WHERE id = :s"), {"s": world.site_id}
    )
    await session.execute(
        text(
            f"UPDATE slots SET updated_at = {hour_ago}, status = 'held', "
            "hold_expires_at = now() - interval '1 min' WHERE id = :l"
        ),
        {"l": lapsed},
    )
    await session.execute(
        text(f"UPDATE slots SET updated_at = {hour_ago} WHERE id = ANY(:ids)"),
        {"ids": [unchanged, booked, reopened]},
    )
    await session.execute(
        text("UPDATE slots SET status = 'booked', updated_at = now() WHERE id = :b"), {"b": booked}
    )
    await session.execute(
        text("UPDATE slots SET updated_at = now() WHERE id = :r"), {"r": reopened}
    )
    since = (datetime.now(UTC) - timedelta(minutes=20)).isoformat(timespec="seconds")
    manifest = (await client.get("/smart/$bulk-publish", params={"_since": since})).json()
    check_manifest(manifest)
    (slot_url,) = [
        o["url"]
        for o in manifest["output"]
        if o["type"] == "Slot" and o["extension"]["state"] == [DEPARTEMENT]
    ]
    assert "_since=" in slot_url
    path, query = urlsplit(slot_url).path, urlsplit(slot_url).query
    body = (await client.get(f"{path}?{query}")).content
    changed = {s["id"]: s["status"] for s in check_file("Slot", body)}
    # The booked one is `busy` (a client drops it), the lapsed hold is free since it lapsed.
    assert changed == {str(booked): "busy", str(reopened): "free", str(lapsed): "free"}
    # Without `_since`: every free one.
    assert set(await published_slots(client)) == {str(unchanged), str(reopened), str(lapsed)}
    # An edit of the territory (its labels, its phone) republishes its slots.
    await session.execute(
        text("UPDATE territories SET updated_at = now() WHERE id = :t"), {"t": world.territory_id}
    )
    again = {s["id"] for s in await fetch(client, "Slot", _since=since)}
    assert again == {str(unchanged), str(booked), str(reopened), str(lapsed)}


@pytest.mark.parametrize(
    "since", ["yesterday", "2026-12-02T08:00:00", "2026-12-02", "2026-13-02T08:00:00Z", "x" * 41]
)
async def test_a_bad_since_is_a_422_problem(
    client: httpx.AsyncClient, world: World, since: str
) -> None:
    for path in ("/smart/$bulk-publish", f"/smart/{DEPARTEMENT}/Slot.ndjson"):
        response = await client.get(path, params={"_since": since})
        assert_problem(response, 422, "invalid-input")
        assert "_since" in response.text


async def test_unknown_or_malformed_departement(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/smart/976/Location.ndjson"), 404, "not-found")
    assert_problem(await client.get("/smart/20/Slot.ndjson"), 422, "invalid-input")
    assert_problem(await client.get("/smart/2a/Schedule.ndjson"), 422, "invalid-input")


async def test_a_site_or_professional_deactivated_is_not_published(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    first, second = await add_slots(session, world, 1)
    for slot_id in (first, second):
        await set_labels(session, slot_id, "PUBLIC")
    await session.execute(
        text("UPDATE professionals SET active = false WHERE id = :p"),
        {"p": world.professional_ids[0]},
    )
    assert set(await published_slots(client)) == {str(second)}
    assert len(await fetch(client, "Schedule")) == 1
    await session.execute(
        text("UPDATE sites SET active = false WHERE id = :s"), {"s": world.site_id}
    )
    assert await published_slots(client) == {}
    assert await fetch(client, "Location") == []
