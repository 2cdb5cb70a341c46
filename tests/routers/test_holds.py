from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dispatch_factories import add_slots, headers, make_world, new_client


async def _slot(session: AsyncSession, slot_id: object) -> tuple[str, object]:
    row = (
        await session.execute(
            text("SELECT status, hold_expires_at FROM slots WHERE id = :id"), {"id": slot_id}
        )
    ).one()
    return row.status, row.hold_expires_at


async def test_hold_on_free_slot_is_201_and_marks_the_slot_held(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    response = await client.post(
        "/v1/holds",
        json={"slot_id": str(slot_id), "ttl_seconds": 120},
        headers=headers(world.regulator_key),
    )
    assert response.status_code == 201, response.text
    hold = response.json()
    assert hold["slot_id"] == str(slot_id)
    assert hold["ttl_seconds"] == 120
    status, expires_at = await _slot(session, slot_id)
    assert status == "held"
    assert expires_at is not None
    events = (
        await session.execute(
            text(
                "SELECT type, recipient_client_id FROM outbox_events WHERE data->>'hold_id' = :id"
            ),
            {"id": hold["id"]},
        )
    ).all()
    assert [(e.type, e.recipient_client_id) for e in events] == [("hold.created", world.source_id)]


async def test_hold_on_held_slot_is_409(client: httpx.AsyncClient, session: AsyncSession) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    _, other_key = await new_client(session, "regulator", territory_ids=[world.territory_id])
    first = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(other_key)
    )
    assert first.status_code == 201
    second = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["type"].endswith("slot-not-free")


async def test_hold_on_booked_slot_is_409(client: httpx.AsyncClient, session: AsyncSession) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1, status="booked")
    response = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    assert response.status_code == 409
    assert "booked" in response.json()["detail"]


async def test_slot_whose_hold_expired_can_be_held_at_once_by_another_regulator(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    _, other_key = await new_client(session, "regulator", territory_ids=[world.territory_id])
    first = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(other_key)
    )
    old_hold = first.json()["id"]
    for sql in (
        "UPDATE slots SET hold_expires_at = now() - interval '1 second' WHERE id = :id",
        "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE slot_id = :id",
    ):
        await session.execute(text(sql), {"id": slot_id})
    second = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    assert second.status_code == 201, second.text
    statuses: dict[str, str] = dict(
        (
            await session.execute(
                text("SELECT id::text, status FROM bookings WHERE slot_id = :id"), {"id": slot_id}
            )
        ).all()
    )
    assert statuses == {old_hold: "expired", second.json()["id"]: "held"}
    types = (
        await session.scalars(
            text("SELECT type FROM outbox_events WHERE data->>'slot_id' = :id ORDER BY id"),
            {"id": str(slot_id)},
        )
    ).all()
    assert types == ["hold.created", "hold.expired", "hold.created"]


async def test_same_regulator_holding_again_renews_its_hold_with_200(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    auth = headers(world.regulator_key)
    first = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id), "ttl_seconds": 60}, headers=auth
    )
    renewed = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id), "ttl_seconds": 900}, headers=auth
    )
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["id"] == first.json()["id"]
    assert renewed.json()["renewed"] is True
    assert renewed.json()["expires_at"] > first.json()["expires_at"]
    _, slot_expiry = await _slot(session, slot_id)
    booking_expiry = await session.scalar(
        text("SELECT expires_at FROM bookings WHERE id = :id"), {"id": first.json()["id"]}
    )
    assert slot_expiry == booking_expiry


async def test_hold_on_slot_of_another_territory_is_404(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    elsewhere = await make_world(session)
    [slot_id] = await add_slots(session, elsewhere, 1)
    response = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    assert response.status_code == 404
    status, _ = await _slot(session, slot_id)
    assert status == "free"


async def test_hold_ttl_above_900_seconds_is_422_naming_the_field(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    response = await client.post(
        "/v1/holds",
        json={"slot_id": str(slot_id), "ttl_seconds": 901},
        headers=headers(world.regulator_key),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.ttl_seconds"


async def test_practice_software_cannot_hold(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    response = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.source_key)
    )
    assert response.status_code == 403


async def test_release_frees_the_slot_and_emits_hold_released(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    auth = headers(world.regulator_key)
    hold = (await client.post("/v1/holds", json={"slot_id": str(slot_id)}, headers=auth)).json()
    response = await client.delete(f"/v1/holds/{hold['id']}", headers=auth)
    assert response.status_code == 204
    status, expires_at = await _slot(session, slot_id)
    assert (status, expires_at) == ("free", None)
    assert (
        await session.scalar(text("SELECT status FROM bookings WHERE id = :id"), {"id": hold["id"]})
    ) == "released"
    assert (
        await session.scalar(
            text(
                "SELECT count(*) FROM outbox_events WHERE type = 'hold.released' "
                "AND data->>'hold_id' = :id"
            ),
            {"id": hold["id"]},
        )
    ) == 1
    again = await client.delete(f"/v1/holds/{hold['id']}", headers=auth)
    assert again.status_code == 204


async def test_release_of_another_regulators_hold_is_404_and_keeps_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    _, other_key = await new_client(session, "regulator", territory_ids=[world.territory_id])
    hold = (
        await client.post(
            "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
        )
    ).json()
    response = await client.delete(f"/v1/holds/{hold['id']}", headers=headers(other_key))
    assert response.status_code == 404
    status, _ = await _slot(session, slot_id)
    assert status == "held"


async def test_every_hold_is_audited_without_patient_data(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold = (
        await client.post(
            "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
        )
    ).json()
    row = (
        await session.execute(
            text(
                "SELECT action, actor_client_id, detail FROM audit_events "
                "WHERE resource_type = 'hold' AND resource_id = :id"
            ),
            {"id": hold["id"]},
        )
    ).one()
    assert row.action == "hold.create"
    assert row.actor_client_id == world.regulator_id
    assert row.detail["slot_id"] == str(slot_id)


async def test_hold_on_slot_of_a_deactivated_professional_is_409_and_takes_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    await session.execute(
        text("UPDATE professionals SET active = false WHERE id = :id"),
        {"id": world.professional_ids[0]},
    )
    response = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    assert response.status_code == 409
    assert "no longer offered" in response.json()["detail"]
    assert (await _slot(session, slot_id))[0] == "free"


async def test_hold_on_slot_of_a_deactivated_site_is_409(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    await session.execute(
        text("UPDATE sites SET active = false WHERE id = :id"), {"id": world.site_id}
    )
    response = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    assert response.status_code == 409
    assert (await _slot(session, slot_id))[0] == "free"


async def test_renewal_replayed_with_its_idempotency_key_answers_200_again(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    keyed = headers(world.regulator_key, **{"Idempotency-Key": "renew-1"})
    body = {"slot_id": str(slot_id), "ttl_seconds": 600}
    renewed = await client.post("/v1/holds", json=body, headers=keyed)
    replayed = await client.post("/v1/holds", json=body, headers=keyed)
    assert (renewed.status_code, replayed.status_code) == (200, 200)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == renewed.json()


async def test_practice_cannot_delete_or_sync_away_a_held_slot_and_the_hold_stays_live(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    external_id, start = (
        await session.execute(
            text("SELECT external_id, start_at FROM slots WHERE id = :id"), {"id": slot_id}
        )
    ).one()
    practice = headers(world.source_key)
    deleted = await client.delete(f"/v1/slots/{external_id}", headers=practice)
    assert deleted.status_code == 409
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    synced = await client.post(
        "/v1/slots/sync", json={"window": window, "slots": []}, headers=practice
    )
    assert synced.status_code == 200, synced.text
    assert [u["id"] for u in synced.json()["untouched"]] == [str(slot_id)]
    assert (await _slot(session, slot_id))[0] == "held"
    assert (
        await session.scalar(
            text("SELECT status FROM bookings WHERE id = :id"), {"id": hold.json()["id"]}
        )
    ) == "held"
