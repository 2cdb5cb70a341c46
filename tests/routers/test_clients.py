"""Admin management of API clients: create (key once), list by pages, revoke; role rules."""

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.db import get_session
from app.main import create_app
from app.models import ApiClient
from tests.conftest import MakeKey, bearer
from tests.dispatch_factories import add_slots, headers, make_world
from tests.factories import NANTES, create_professional, create_site, create_territory
from tests.routers.paging import ids_of, walk_pages
from tests.routers.test_bookings import PATIENT
from tests.routers.test_errors import assert_problem
from tests.routers.test_slots import slot as slot_item
from tests.services.slots.test_intake import build_world as build_slot_world

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


# A revoked practice software's slots: free ones are offered to nobody, the others stay.


async def _revoke(client: httpx.AsyncClient, admin_headers: Headers, client_id: uuid.UUID) -> None:
    response = await client.delete(f"/v1/clients/{client_id}", headers=admin_headers)
    assert response.status_code == 204, response.text


async def _rpps(session: AsyncSession, professional_id: uuid.UUID) -> str:
    rpps: str = await session.scalar(
        text("SELECT rpps FROM professionals WHERE id = :id"), {"id": professional_id}
    )
    return rpps


async def test_a_revoked_sources_free_slots_are_not_searched_held_or_dispatched(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: Headers
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    regulator = headers(world.regulator_key)
    search = {"location": {"lat": world.lat, "lon": world.lon}}
    before = await client.post("/v1/searches", json=search, headers=regulator)
    assert [c["slot_id"] for c in before.json()["candidates"]] == [str(slot_id)]

    await _revoke(client, admin_headers, world.source_id)

    mt = {**search, "medecin_traitant_rpps": await _rpps(session, world.professional_ids[0])}
    for body in (search, mt):
        found = await client.post("/v1/searches", json=body, headers=regulator)
        assert found.status_code == 200, found.text
        assert found.json()["candidates"] == []
    held = await client.post("/v1/holds", json={"slot_id": str(slot_id)}, headers=regulator)
    assert_problem(held, 409, "slot-not-free")
    dispatched = await client.post("/v1/dispatch", json=search, headers=regulator)
    assert dispatched.status_code == 404, dispatched.text
    status = await session.scalar(text("SELECT status FROM slots WHERE id = :id"), {"id": slot_id})
    assert status == "free"  # kept as it is, for a transfer to another client


async def test_a_slot_held_before_its_source_is_revoked_can_still_be_booked(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: Headers
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    regulator = headers(world.regulator_key)
    hold = await client.post("/v1/holds", json={"slot_id": str(slot_id)}, headers=regulator)
    assert hold.status_code == 201, hold.text
    await _revoke(client, admin_headers, world.source_id)
    booked = await client.post(
        "/v1/bookings",
        json={"hold_id": hold.json()["id"], "patient": PATIENT},
        headers=headers(world.regulator_key, **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert booked.status_code == 201, booked.text


async def test_a_client_shows_how_many_of_its_slots_are_free_held_and_booked(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: Headers
) -> None:
    world = await make_world(session)
    free, to_hold, _, _ = await add_slots(session, world, 4)
    await add_slots(session, world, 2, start=datetime.now(UTC) + timedelta(days=1), status="booked")
    await add_slots(session, world, 1, start=datetime.now(UTC) - timedelta(hours=2), minutes=30)
    await session.execute(
        text("UPDATE slots SET status = 'cancelled' WHERE id = :id"), {"id": free}
    )
    hold = await client.post(
        "/v1/holds", json={"slot_id": str(to_hold)}, headers=headers(world.regulator_key)
    )
    assert hold.status_code == 201, hold.text
    await _revoke(client, admin_headers, world.source_id)

    response = await client.get(f"/v1/clients/{world.source_id}", headers=admin_headers)
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["active"] is False
    assert shown["professional_ids"] == [str(p) for p in world.professional_ids]
    # Only slots still to come count; the one that ended and the cancelled one do not.
    assert shown["slots"] == {"free": 2, "held": 1, "booked": 2}
    trail = await session.scalar(
        text(
            "SELECT detail FROM audit_events WHERE action = 'client.revoke' AND resource_id = :id"
        ),
        {"id": str(world.source_id)},
    )
    assert trail["slots"] == {"free": 2, "held": 1, "booked": 2}


async def test_showing_an_unknown_client_is_404(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.get(f"/v1/clients/{uuid.uuid4()}", headers=admin_headers)
    assert_problem(response, 404, "not-found")


# Key rotation: the same client, a new key.


async def _rotate(
    client: httpx.AsyncClient, admin_headers: Headers, client_id: uuid.UUID, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/clients/{client_id}/rotate-key", json=body or None, headers=admin_headers
    )


async def _works(client: httpx.AsyncClient, key: str) -> bool:
    response = await client.get("/v1/territories", headers=bearer(key))
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


async def test_rotating_a_key_keeps_the_client_and_refuses_the_old_key_at_once(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey, session: AsyncSession
) -> None:
    old_key, client_id = await make_key("admin")
    response = await _rotate(client, admin_headers, client_id)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    rotated = response.json()
    assert rotated["id"] == str(client_id)
    assert rotated["previous_key_expires_at"] is None
    new_key = rotated["api_key"]
    assert new_key != old_key
    assert new_key.startswith(rotated["key_prefix"] + "_")
    assert not await _works(client, old_key)
    assert await _works(client, new_key)
    listed = await client.get(f"/v1/clients/{client_id}", headers=admin_headers)
    assert listed.json()["key_prefix"] == rotated["key_prefix"]
    assert new_key not in listed.text
    trail = (
        await session.execute(
            text(
                "SELECT actor, detail FROM audit_events WHERE action = 'client.rotate_key' "
                "AND resource_id = :id"
            ),
            {"id": str(client_id)},
        )
    ).one()
    assert trail.actor.startswith("admin:")
    assert trail.detail["grace_seconds"] == 0
    assert new_key.rsplit("_", 1)[1] not in str(trail.detail)


async def test_with_a_grace_period_the_previous_key_works_until_it_ends(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey, session: AsyncSession
) -> None:
    old_key, client_id = await make_key("admin")
    response = await _rotate(client, admin_headers, client_id, grace_seconds=600)
    assert response.status_code == 200, response.text
    expires = datetime.fromisoformat(response.json()["previous_key_expires_at"])
    assert timedelta(seconds=590) < expires - datetime.now(UTC) <= timedelta(seconds=600)
    new_key = response.json()["api_key"]
    assert await _works(client, old_key)
    assert await _works(client, new_key)
    await session.execute(
        text(
            "UPDATE api_clients SET previous_key_expires_at = now() - interval '1 second' "
            "WHERE id = :id"
        ),
        {"id": client_id},
    )
    assert not await _works(client, old_key)
    assert await _works(client, new_key)


async def test_a_second_rotation_drops_the_key_still_in_its_grace(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey
) -> None:
    first, client_id = await make_key("admin")
    second = (await _rotate(client, admin_headers, client_id, grace_seconds=600)).json()["api_key"]
    third = (await _rotate(client, admin_headers, client_id, grace_seconds=600)).json()["api_key"]
    assert not await _works(client, first)
    assert await _works(client, second)
    assert await _works(client, third)


@pytest.mark.parametrize("grace", [-1, 86_401, "soon"])
async def test_a_grace_outside_0_to_a_day_is_422(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey, grace: object
) -> None:
    key, client_id = await make_key("admin")
    response = await _rotate(client, admin_headers, client_id, grace_seconds=grace)
    problem = assert_problem(response, 422, "invalid-input")
    assert [e["location"] for e in problem["errors"]] == ["body.grace_seconds"]
    assert await _works(client, key)


async def test_rotating_a_revoked_clients_key_is_409_and_an_unknown_ones_404(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey
) -> None:
    key, client_id = await make_key("admin")
    await _revoke(client, admin_headers, client_id)
    assert_problem(await _rotate(client, admin_headers, client_id), 409, "client-revoked")
    assert not await _works(client, key)
    assert_problem(await _rotate(client, admin_headers, uuid.uuid4()), 404, "not-found")


# Handing a practice software's slots to another one.


async def _transfer(
    client: httpx.AsyncClient, admin_headers: Headers, from_id: object, to_id: object
) -> httpx.Response:
    return await client.post(
        f"/v1/clients/{from_id}/transfer-slots",
        json={"to_client_id": str(to_id)},
        headers=admin_headers,
    )


async def _pushed(
    client: httpx.AsyncClient, key: str, *items: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await client.put("/v1/slots", json={"slots": list(items)}, headers=bearer(key))
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def _owners(session: AsyncSession, ids: list[str]) -> set[uuid.UUID]:
    rows = await session.scalars(
        text("SELECT source_client_id FROM slots WHERE id = ANY(CAST(:ids AS uuid[]))"),
        {"ids": ids},
    )
    return set(rows.all())


async def test_transfer_hands_a_revoked_softwares_slots_to_the_new_one_which_re_pushes_them(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession, make_key: MakeKey
) -> None:
    world = await build_slot_world(client, admin_headers, make_key)
    old, new = world.software, world.other_software
    agenda = [slot_item(world, f"agenda-{i}", hours=i) for i in range(3)]
    ids = [r["id"] for r in await _pushed(client, world.software_key, *agenda)]
    regulator_key, _ = await make_key("regulator", territory_ids=[world.territory_id])
    regulator = bearer(regulator_key)
    held = await client.post("/v1/holds", json={"slot_id": ids[0]}, headers=regulator)
    assert held.status_code == 201, held.text
    await _revoke(client, admin_headers, old.client_id)
    # Before the transfer, the new software cannot take over: the same agenda overlaps.
    refused = await _pushed(client, world.other_software_key, agenda[1])
    assert refused[0]["status"] in ("rejected", "conflict"), refused

    response = await _transfer(client, admin_headers, old.client_id, new.client_id)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "from_client_id": str(old.client_id),
        "to_client_id": str(new.client_id),
        "transferred": 3,
        "by_status": {"free": 2, "held": 1},
    }
    assert await _owners(session, ids) == {new.client_id}
    search = {"location": {"lat": NANTES["lat"], "lon": NANTES["lon"]}}
    found = await client.post("/v1/searches", json=search, headers=regulator)
    assert {c["slot_id"] for c in found.json()["candidates"]} == set(ids[1:])

    moved = slot_item(world, "agenda-2", hours=2, minutes=25)
    results = await _pushed(client, world.other_software_key, agenda[1], moved)
    assert [(r["status"], r["id"]) for r in results] == [
        ("unchanged", ids[1]),
        ("updated", ids[2]),
    ]
    count = await session.scalar(
        text("SELECT count(*) FROM slots WHERE source_client_id = :c"), {"c": new.client_id}
    )
    assert count == 3

    events = (
        await session.execute(
            text(
                "SELECT recipient_client_id, data FROM outbox_events "
                "WHERE type = 'slot.transferred'"
            )
        )
    ).all()
    for recipient in (old.client_id, new.client_id):
        mine = [e.data for e in events if e.recipient_client_id == recipient]
        assert sorted(d["id"] for d in mine) == sorted(ids)
        assert all(d["to_client_id"] == str(new.client_id) for d in mine)
    trail = await session.scalar(
        text(
            "SELECT detail FROM audit_events WHERE action = 'client.transfer_slots' "
            "AND resource_id = :id"
        ),
        {"id": str(old.client_id)},
    )
    assert trail == {
        "to_client_id": str(new.client_id),
        "transferred": 3,
        "by_status": {"free": 2, "held": 1},
    }


async def test_transfer_with_colliding_external_ids_is_409_naming_them_and_moves_nothing(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession, make_key: MakeKey
) -> None:
    world = await build_slot_world(client, admin_headers, make_key)
    old, new = world.software, world.other_software
    ids = [
        r["id"]
        for r in await _pushed(
            client,
            world.software_key,
            slot_item(world, "a", hours=0),
            slot_item(world, "b", hours=1),
            slot_item(world, "c", hours=2),
        )
    ]
    await _pushed(
        client,
        world.other_software_key,
        slot_item(world, "c", hours=5),
        slot_item(world, "a", hours=6),
    )
    response = await _transfer(client, admin_headers, old.client_id, new.client_id)
    problem = assert_problem(response, 409, "external-id-collision")
    assert problem["external_ids"] == ["a", "c"]
    assert problem["collisions"] == 2
    assert await _owners(session, ids) == {old.client_id}
    transferred = await session.scalar(
        text("SELECT count(*) FROM outbox_events WHERE type = 'slot.transferred'")
    )
    assert transferred == 0


async def test_transfer_to_a_client_not_linked_to_the_professionals_is_422_naming_them(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession, make_key: MakeKey
) -> None:
    world = await build_slot_world(client, admin_headers, make_key)
    [pushed] = await _pushed(client, world.software_key, slot_item(world, "a"))
    _, stranger = await make_key("practice_software")
    response = await _transfer(client, admin_headers, world.software.client_id, stranger)
    problem = assert_problem(response, 422, "invalid-input")
    assert problem["location"] == "body.to_client_id"
    professional_id = await session.scalar(
        text("SELECT professional_id FROM slots WHERE id = :id"), {"id": pushed["id"]}
    )
    assert problem["professional_ids"] == [str(professional_id)]
    assert await _owners(session, [pushed["id"]]) == {world.software.client_id}


@pytest.mark.parametrize("target", ["itself", "unknown", "regulator", "revoked"])
async def test_transfer_to_anything_but_another_active_practice_software_is_422(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    make_key: MakeKey,
    territory: dict[str, Any],
    target: str,
) -> None:
    _, source = await make_key("practice_software")
    if target == "itself":
        to_id = source
    elif target == "unknown":
        to_id = uuid.uuid4()
    elif target == "regulator":
        _, to_id = await make_key("regulator", territory_ids=[uuid.UUID(territory["id"])])
    else:
        _, to_id = await make_key("practice_software")
        await _revoke(client, admin_headers, to_id)
    response = await _transfer(client, admin_headers, source, to_id)
    assert assert_problem(response, 422, "invalid-input")["location"] == "body.to_client_id"


async def test_transfer_from_a_client_that_is_not_a_practice_software_is_422_or_404(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey
) -> None:
    _, admin_id = await make_key("admin")
    _, target = await make_key("practice_software")
    response = await _transfer(client, admin_headers, admin_id, target)
    assert assert_problem(response, 422, "invalid-input")["location"] == "path.client_id"
    assert_problem(await _transfer(client, admin_headers, uuid.uuid4(), target), 404, "not-found")


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
