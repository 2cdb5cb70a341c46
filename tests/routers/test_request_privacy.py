"""Issue 9: an en-sus request's patient fields (reason, search criteria, the distances and nearest
sites of those asked) are sealed, and readable only by the requesting regulator and, once
accepted, the accepting practice; by nobody after expiry."""

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dispatch_factories import World, add_professional, add_site, headers, make_world
from tests.dispatch_factories import new_client as new_api_client


async def _open(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    response = await client.post(
        "/v1/requests",
        json={"location": {"lat": world.lat, "lon": world.lon}, "reason": "otite"},
        headers=headers(world.regulator_key),
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _read(client: httpx.AsyncClient, request_id: str, key: str) -> dict[str, Any]:
    response = await client.get(f"/v1/requests/{request_id}", headers=headers(key))
    assert response.status_code == 200, response.text
    read: dict[str, Any] = response.json()
    return read


def _assert_no_patient_fields(answer: dict[str, Any]) -> None:
    assert answer["reason"] is None
    assert answer["criteria"] is None
    assert answer["professionals"]
    assert all(p["distance_km"] is None and p["site"] is None for p in answer["professionals"])


async def _two_asked_with_their_own_practices(session: AsyncSession) -> tuple[World, str, str]:
    """A world whose two en-sus professionals (near, far) each have their own practice client."""
    world = await make_world(session, accepts_en_sus=True)
    far_site = await add_site(session, world.territory_id, world.lat + 0.05, world.lon)
    far = await add_professional(session, far_site, accepts_en_sus=True)
    world.professional_ids.append(far)
    _, near_key = await new_api_client(
        session, "practice_software", professional_ids=[world.professional_ids[0]]
    )
    _, far_key = await new_api_client(session, "practice_software", professional_ids=[far])
    return world, near_key, far_key


async def test_stored_request_keeps_no_distance_nor_nearest_first_order_in_clear(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    for step in (0.02, 0.04, 0.06):
        site = await add_site(session, world.territory_id, world.lat + step, world.lon)
        world.professional_ids.append(await add_professional(session, site, accepts_en_sus=True))
    created = await _open(client, world)
    # The requesting regulator gets them nearest first, with their distances and sites.
    assert [p["id"] for p in created["professionals"]] == [str(p) for p in world.professional_ids]
    distances = [p["distance_km"] for p in created["professionals"]]
    assert distances == sorted(distances)
    assert distances[-1] > 6
    stored = (
        await session.execute(
            text("SELECT criteria, criteria::text AS raw FROM en_sus_requests WHERE id = :id"),
            {"id": created["id"]},
        )
    ).one()
    assert "distance" not in stored.raw
    assert "site" not in stored.raw
    # In clear: who was asked (to tell their practices), in id order, not nearest first.
    ids = [p["id"] for p in stored.criteria["professionals"]]
    assert ids == sorted(str(p) for p in world.professional_ids)
    again = await _read(client, created["id"], world.regulator_key)
    assert again["professionals"] == created["professionals"]


async def test_other_regulator_of_the_territory_reads_the_request_without_patient_fields(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    _, colleague_key = await new_api_client(
        session, "regulator", territory_ids=[world.territory_id]
    )
    created = await _open(client, world)
    read = await _read(client, created["id"], colleague_key)
    assert read["status"] == "open"
    assert [p["id"] for p in read["professionals"]] == [str(world.professional_ids[0])]
    _assert_no_patient_fields(read)
    mine = await _read(client, created["id"], world.regulator_key)
    assert mine["reason"] == "otite"
    assert mine["criteria"]["location"] == {"lat": world.lat, "lon": world.lon}


async def test_asked_practice_reads_patient_fields_only_once_its_professional_accepted(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, near_key, far_key = await _two_asked_with_their_own_practices(session)
    created = await _open(client, world)
    before = await _read(client, created["id"], near_key)
    _assert_no_patient_fields(before)
    accepted = await client.post(
        f"/v1/requests/{created['id']}/accept",
        json={"professional_id": str(world.professional_ids[0])},
        headers=headers(near_key),
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["reason"] == "otite"
    assert accepted.json()["professionals"][0]["distance_km"] is not None
    after = await _read(client, created["id"], near_key)
    assert after["reason"] == "otite"
    assert after["criteria"]["location"] == {"lat": world.lat, "lon": world.lon}
    # The other practice asked, whose professional did not take the patient, still does not.
    other = await _read(client, created["id"], far_key)
    assert other["status"] == "accepted"
    _assert_no_patient_fields(other)
    # Neither does a regulator client of the territory other than the one who asked.
    _, colleague_key = await new_api_client(
        session, "regulator", territory_ids=[world.territory_id]
    )
    _assert_no_patient_fields(await _read(client, created["id"], colleague_key))


async def test_nobody_reads_patient_fields_once_the_request_has_expired(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    created = await _open(client, world)
    await session.execute(
        text("UPDATE en_sus_requests SET expires_at = now() - interval '1 second' WHERE id = :id"),
        {"id": created["id"]},
    )
    lapsed = await _read(client, created["id"], world.regulator_key)
    assert lapsed["status"] == "expired"
    _assert_no_patient_fields(lapsed)
    await session.execute(
        text("UPDATE en_sus_requests SET status = 'expired' WHERE id = :id"),
        {"id": created["id"]},
    )
    swept = await _read(client, created["id"], world.regulator_key)
    assert swept["status"] == "expired"
    _assert_no_patient_fields(swept)


async def test_admin_reads_and_accepts_without_patient_fields(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    created = await _open(client, world)
    read = await client.get(f"/v1/requests/{created['id']}", headers=admin_headers)
    assert read.status_code == 200
    _assert_no_patient_fields(read.json())
    accepted = await client.post(
        f"/v1/requests/{created['id']}/accept",
        json={"professional_id": str(world.professional_ids[0])},
        headers=admin_headers,
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    _assert_no_patient_fields(accepted.json())


async def test_reads_are_audited_with_whether_patient_fields_were_disclosed(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    created = await _open(client, world)
    await _read(client, created["id"], world.regulator_key)
    await _read(client, created["id"], world.source_key)
    details = (
        await session.scalars(
            text(
                "SELECT detail FROM audit_events WHERE action = 'request.read' "
                "AND resource_id = :id ORDER BY id"
            ),
            {"id": created["id"]},
        )
    ).all()
    assert details == [{"patient_fields": True}, {"patient_fields": False}]
