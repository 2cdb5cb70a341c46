"""Races on two real uvicorn processes sharing one PostgreSQL: the database decides every one."""

import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.concurrency.conftest import Build, Call, fire, new_key
from tests.dispatch_factories import World, add_slots, headers, make_world, new_client

pytestmark = pytest.mark.slow

PATIENT = {
    "family_name": "Durand",
    "given_name": "Léa",
    "birth_date": "1984-05-17",
    "phone": "0612345678",
}


async def _world_with_slots(
    build: Build, *, professionals: int, slots_each: int, regulators: int, en_sus: bool = False
) -> tuple[World, list[str]]:
    keys: list[str] = []

    async def builder(session: AsyncSession) -> World:
        world = await make_world(session, professionals=professionals, accepts_en_sus=en_sus)
        if slots_each:
            await add_slots(session, world, slots_each)
        keys.append(world.regulator_key)
        for _ in range(regulators - 1):
            _, key = await new_client(session, "regulator", territory_ids=[world.territory_id])
            keys.append(key)
        return world

    return await build(builder), keys


async def _scalar(engine: AsyncEngine, sql: str, **params: object) -> object:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def test_200_concurrent_holds_on_20_slots_from_two_processes_give_exactly_20_holds(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    world, regulator_keys = await _world_with_slots(
        committed, professionals=1, slots_each=20, regulators=10
    )
    requests = [
        (
            "POST",
            f"{servers[(i + j) % 2]}/v1/holds",
            {"slot_id": str(slot_id)},
            headers(key),
        )
        for i, slot_id in enumerate(world.slot_ids)
        for j, key in enumerate(regulator_keys)
    ]
    responses = await fire(requests)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 20, 409: 180}, statuses
    refusals = [r for r in responses if r.status_code == 409]
    assert all(r.headers["content-type"] == "application/problem+json" for r in refusals)
    assert all(r.json()["type"].endswith("slot-not-free") for r in refusals)
    held = sorted(r.json()["slot_id"] for r in responses if r.status_code == 201)
    assert held == sorted(str(s) for s in world.slot_ids)
    active = await _scalar(
        committing_engine,
        "SELECT count(*) FROM bookings WHERE status = 'held' "
        "AND slot_id = ANY(CAST(:ids AS uuid[]))",
        ids=world.slot_ids,
    )
    assert active == 20


async def test_100_concurrent_dispatches_on_30_slots_give_30_distinct_holds_and_70_no_free_slot(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    world, regulator_keys = await _world_with_slots(
        committed, professionals=3, slots_each=10, regulators=4
    )
    # A small page makes most dispatches lose their first candidates to a rival: the retry
    # paths (waiting pass, new search) must still find every free slot.
    body = {"location": {"lat": world.lat, "lon": world.lon}, "limit": 3}
    requests = [
        ("POST", f"{servers[i % 2]}/v1/dispatch", body, headers(regulator_keys[i % 4]))
        for i in range(100)
    ]
    responses = await fire(requests)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 30, 404: 70}, statuses
    held = [r.json()["hold"]["slot_id"] for r in responses if r.status_code == 201]
    assert sorted(held) == sorted(str(s) for s in world.slot_ids)
    refusals = [r for r in responses if r.status_code == 404]
    assert all(r.json()["type"].endswith("no-free-slot") for r in refusals)
    assert all(r.json()["en_sus_request"]["href"] == "/v1/requests" for r in refusals)
    free_left = await _scalar(
        committing_engine,
        "SELECT count(*) FROM slots WHERE status <> 'held' AND id = ANY(CAST(:ids AS uuid[]))",
        ids=world.slot_ids,
    )
    assert free_left == 0


async def test_booking_races_a_lapsing_hold_and_fails_cleanly_while_live_ones_book(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    """Holds that lapsed as the booking arrives: a rival takes each slot, every booking is 409
    and no lapsed slot is booked; on live holds the booking wins and the rival gets 409."""
    world, (booker_key, rival_key) = await _world_with_slots(
        committed, professionals=1, slots_each=20, regulators=2
    )
    holds = await fire(
        [
            ("POST", f"{servers[0]}/v1/holds", {"slot_id": str(s)}, headers(booker_key))
            for s in world.slot_ids
        ]
    )
    assert all(h.status_code == 201 for h in holds)
    lapsing = [h.json() for h in holds[:10]]
    live = [h.json() for h in holds[10:]]
    async with committing_engine.begin() as conn:
        for sql in (
            "UPDATE bookings SET expires_at = now() - interval '1 second' "
            "WHERE id = ANY(CAST(:ids AS uuid[]))",
            "UPDATE slots SET hold_expires_at = now() - interval '1 second' "
            "WHERE id = ANY(CAST(:slots AS uuid[]))",
        ):
            await conn.execute(
                text(sql),
                {"ids": [h["id"] for h in lapsing], "slots": [h["slot_id"] for h in lapsing]},
            )
    requests = []
    for i, hold in enumerate(lapsing + live):
        booking = {"hold_id": hold["id"], "patient": PATIENT}
        requests.append(
            (
                "POST",
                f"{servers[i % 2]}/v1/bookings",
                booking,
                headers(booker_key, **{"Idempotency-Key": new_key()}),
            )
        )
        requests.append(
            (
                "POST",
                f"{servers[(i + 1) % 2]}/v1/holds",
                {"slot_id": hold["slot_id"]},
                headers(rival_key),
            )
        )
    responses = await fire(requests)
    bookings, rivals = responses[0::2], responses[1::2]
    assert [b.status_code for b in bookings] == [409] * 10 + [201] * 10
    assert all(b.json()["type"].endswith("hold-not-live") for b in bookings[:10])
    assert [r.status_code for r in rivals] == [201] * 10 + [409] * 10
    booked = await _scalar(
        committing_engine,
        "SELECT count(*) FROM slots WHERE status = 'booked' AND id = ANY(CAST(:ids AS uuid[]))",
        ids=[uuid.UUID(h["slot_id"]) for h in lapsing],
    )
    assert booked == 0
    lapsed_with_patient = await _scalar(
        committing_engine,
        "SELECT count(*) FROM bookings WHERE patient IS NOT NULL "
        "AND id = ANY(CAST(:ids AS uuid[]))",
        ids=[uuid.UUID(h["id"]) for h in lapsing],
    )
    assert lapsed_with_patient == 0


async def test_concurrent_booking_replays_with_one_key_make_one_booking(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    world, (key,) = await _world_with_slots(committed, professionals=1, slots_each=1, regulators=1)
    hold = await fire(
        [("POST", f"{servers[0]}/v1/holds", {"slot_id": str(world.slot_ids[0])}, headers(key))]
    )
    hold_id = hold[0].json()["id"]
    auth = headers(key, **{"Idempotency-Key": new_key()})
    body = {"hold_id": hold_id, "patient": PATIENT, "reason": "fièvre"}
    responses = await fire(
        [("POST", f"{servers[i % 2]}/v1/bookings", body, auth) for i in range(10)]
    )
    assert [r.status_code for r in responses] == [201] * 10
    assert {r.json()["id"] for r in responses} == {hold_id}
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 9
    events = await _scalar(
        committing_engine,
        "SELECT count(*) FROM outbox_events WHERE type = 'booking.created' "
        "AND data->>'booking_id' = :id",
        id=hold_id,
    )
    assert events == 2  # once: one row for the practice, one for the regulator


async def test_en_sus_first_accept_wins_under_concurrency(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    world, (key,) = await _world_with_slots(
        committed, professionals=20, slots_each=0, regulators=1, en_sus=True
    )
    opened = await fire(
        [
            (
                "POST",
                f"{servers[0]}/v1/requests",
                {"location": {"lat": world.lat, "lon": world.lon}, "reason": "otite"},
                headers(key),
            )
        ]
    )
    assert opened[0].status_code == 201, opened[0].text
    request_id = opened[0].json()["id"]
    responses = await fire(
        [
            (
                "POST",
                f"{servers[i % 2]}/v1/requests/{request_id}/accept",
                {"professional_id": str(professional_id)},
                headers(world.source_key),
            )
            for i, professional_id in enumerate(world.professional_ids)
        ]
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 409: 19}, statuses
    [winner] = [r.json()["accepted_by_professional_id"] for r in responses if r.status_code == 200]
    stored = await _scalar(
        committing_engine,
        "SELECT accepted_by_professional_id::text FROM en_sus_requests WHERE id = :id",
        id=uuid.UUID(request_id),
    )
    assert stored == winner


async def test_pushes_racing_holds_never_change_a_held_slot_and_rows_stay_consistent(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    """Invariant 2 against holds: the practice re-pushes (as home visits) the slots that a
    regulator is holding at the same moment. Every hold wins (a push leaves a slot free); a
    push is `updated` only if it came before the hold, else it is a `conflict` and the slot
    keeps what was held."""
    world, (key,) = await _world_with_slots(committed, professionals=1, slots_each=20, regulators=1)
    async with committing_engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT s.id, s.external_id, s.start_at, s.end_at, p.rpps FROM slots s "
                    "JOIN professionals p ON p.id = s.professional_id "
                    "WHERE s.id = ANY(CAST(:ids AS uuid[])) ORDER BY s.start_at"
                ),
                {"ids": world.slot_ids},
            )
        ).all()
    requests: list[Call] = []
    for i, row in enumerate(rows):
        item: dict[str, Any] = {
            "external_id": row.external_id,
            "professional_rpps": row.rpps,
            "site_id": str(world.site_id),
            "start": row.start_at.isoformat(),
            "end": row.end_at.isoformat(),
            "modality": "HH",
        }
        requests.append(
            ("PUT", f"{servers[i % 2]}/v1/slots", {"slots": [item]}, headers(world.source_key))
        )
        requests.append(
            ("POST", f"{servers[(i + 1) % 2]}/v1/holds", {"slot_id": str(row.id)}, headers(key))
        )
    responses = await fire(requests)
    pushes, holds = responses[0::2], responses[1::2]
    assert [p.status_code for p in pushes] == [200] * 20
    assert [h.status_code for h in holds] == [201] * 20
    async with committing_engine.connect() as conn:
        stored = {
            r.id: r
            for r in await conn.execute(
                text(
                    "SELECT s.id, s.status, s.modality, "
                    "(SELECT count(*) FROM bookings b WHERE b.slot_id = s.id "
                    " AND b.status = 'held') AS holds, "
                    "(SELECT max(e.id) FROM outbox_events e WHERE e.type = 'hold.created' "
                    " AND e.data->>'slot_id' = s.id::text) AS held_event, "
                    "(SELECT max(e.id) FROM outbox_events e WHERE e.type = 'slot.updated' "
                    " AND e.data->>'id' = s.id::text) AS pushed_event "
                    "FROM slots s WHERE s.id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": world.slot_ids},
            )
        }
    for row, push in zip(rows, pushes, strict=True):
        result = push.json()["results"][0]["status"]
        now = stored[row.id]
        assert (now.status, now.holds) == ("held", 1)
        if result == "conflict":
            assert (now.modality, now.pushed_event) == ("AMB", None)
        else:
            assert result == "updated"
            assert now.modality == "HH"
            assert now.pushed_event < now.held_event
