"""Issue 9: Idempotency-Key records keep nothing in clear (keyed digests, sealed answers), expire
after IDEMPOTENCY_TTL_SECONDS, and a replay is not counted again in the metrics."""

import hashlib
import uuid

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.crypto import cipher_for
from app.schemas.dispatch import DispatchRequest
from tests.dispatch_factories import World, add_slots, headers, make_world
from tests.routers.test_bookings import PATIENT
from tests.routers.test_metrics import sample, scrape


def _dispatch_body(world: World) -> dict[str, object]:
    return {"location": {"lat": world.lat, "lon": world.lon}}


async def _record(session: AsyncSession, key: str) -> tuple[str, bytes]:
    row = (
        await session.execute(
            text("SELECT body_digest, response FROM idempotency_records WHERE key = :key"),
            {"key": key},
        )
    ).one()
    return row.body_digest, bytes(row.response)


async def test_dispatch_answer_is_stored_sealed_and_its_body_by_a_keyed_digest(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    world = await make_world(session)
    slot_ids = await add_slots(session, world, 3)
    key = f"dispatch-{uuid.uuid4()}"
    auth = headers(world.regulator_key, **{"Idempotency-Key": key})
    first = await client.post("/v1/dispatch", json=_dispatch_body(world), headers=auth)
    assert first.status_code == 201, first.text
    digest, stored = await _record(session, key)
    for clear in (str(slot_ids[0]), str(slot_ids[1]), "distance_km", "alternatives"):
        assert clear.encode() not in stored
    canonical = orjson.dumps(
        DispatchRequest.model_validate(_dispatch_body(world)).model_dump(mode="json"),
        option=orjson.OPT_SORT_KEYS,
    )
    # A guessed body can not be checked against the digest without the server's key.
    assert digest != hashlib.sha256(canonical).hexdigest()
    assert digest == cipher_for(settings.patient_data_key).fingerprint(canonical).hex()
    again = await client.post("/v1/dispatch", json=_dispatch_body(world), headers=auth)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


async def test_hold_answer_is_stored_sealed_too(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    key = f"hold-{uuid.uuid4()}"
    held = await client.post(
        "/v1/holds",
        json={"slot_id": str(slot_id)},
        headers=headers(world.regulator_key, **{"Idempotency-Key": key}),
    )
    assert held.status_code == 201, held.text
    _, stored = await _record(session, key)
    assert str(slot_id).encode() not in stored
    assert held.json()["id"].encode() not in stored


async def test_replay_after_the_record_expired_acts_as_a_new_request(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    body = {"location": {"lat": world.lat, "lon": world.lon}, "reason": "otite"}
    key = f"req-{uuid.uuid4()}"
    auth = headers(world.regulator_key, **{"Idempotency-Key": key})
    first = await client.post("/v1/requests", json=body, headers=auth)
    assert first.status_code == 201, first.text
    await session.execute(
        text(
            "UPDATE idempotency_records SET created_at = now() - interval '24 hours 1 second' "
            "WHERE key = :key"
        ),
        {"key": key},
    )
    again = await client.post("/v1/requests", json=body, headers=auth)
    assert again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    # The key is claimed afresh: a retry now replays the second answer.
    third = await client.post("/v1/requests", json=body, headers=auth)
    assert third.headers["Idempotent-Replayed"] == "true"
    assert third.json()["id"] == again.json()["id"]


async def test_replays_are_not_counted_again_in_the_hold_and_booking_metrics(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    first_slot, _ = await add_slots(session, world, 2)
    before = await scrape(client)
    hold_auth = headers(world.regulator_key, **{"Idempotency-Key": f"h-{uuid.uuid4()}"})
    dispatch_auth = headers(world.regulator_key, **{"Idempotency-Key": f"d-{uuid.uuid4()}"})
    book_auth = headers(world.regulator_key, **{"Idempotency-Key": f"b-{uuid.uuid4()}"})
    report_auth = headers(world.source_key, **{"Idempotency-Key": f"r-{uuid.uuid4()}"})
    for _ in range(2):
        held = await client.post("/v1/holds", json={"slot_id": str(first_slot)}, headers=hold_auth)
        assert held.status_code == 201, held.text
    for _ in range(2):
        dispatched = await client.post(
            "/v1/dispatch", json=_dispatch_body(world), headers=dispatch_auth
        )
        assert dispatched.status_code == 201, dispatched.text
    booking_body = {"hold_id": held.json()["id"], "patient": PATIENT}
    for _ in range(2):
        booked = await client.post("/v1/bookings", json=booking_body, headers=book_auth)
        assert booked.status_code == 201, booked.text
    for _ in range(2):
        reported = await client.patch(
            f"/v1/bookings/{booked.json()['id']}", json={"status": "fulfilled"}, headers=report_auth
        )
        assert reported.status_code == 200, reported.text
    after = await scrape(client)

    def grew(name: str, outcome: str) -> float:
        return (sample(after, name, outcome=outcome) or 0) - (
            sample(before, name, outcome=outcome) or 0
        )

    assert grew("snp_holds_total", "created") == 2  # one hold, one dispatch
    assert grew("snp_bookings_total", "booked") == 1
    assert grew("snp_bookings_total", "fulfilled") == 1
