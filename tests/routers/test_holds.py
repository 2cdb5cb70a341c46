from datetime import datetime, timedelta

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
                "SELECT type, recipient_client_id FROM outbox_events WHERE data->>'hold_id' = :id "
                "ORDER BY id"
            ),
            {"id": hold["id"]},
        )
    ).all()
    assert [(e.type, e.recipient_client_id) for e in events] == [
        ("hold.created", world.source_id),
        ("hold.created", world.regulator_id),
    ]


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
            text(
                "SELECT type FROM outbox_events WHERE data->>'slot_id' = :id "
                "AND recipient_client_id = :practice ORDER BY id"
            ),
            {"id": str(slot_id), "practice": world.source_id},
        )
    ).all()
    assert types == ["hold.created", "hold.expired", "hold.created"]


async def test_same_client_holding_a_slot_it_holds_is_409_and_keeps_the_first_hold(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # A call centre's operators share one key: the second operator must not be told it holds
    # the slot the first one holds.
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    auth = headers(world.regulator_key)
    first = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id), "ttl_seconds": 60}, headers=auth
    )
    assert first.status_code == 201, first.text
    again = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id), "ttl_seconds": 900}, headers=auth
    )
    assert again.status_code == 409, again.text
    assert again.json()["type"].endswith("slot-not-free")
    hold_id = first.json()["id"]
    assert f"/v1/holds/{hold_id}/renew" in again.json()["detail"]
    _, slot_expiry = await _slot(session, slot_id)
    booking_expiry = await session.scalar(
        text("SELECT expires_at FROM bookings WHERE id = :id"), {"id": hold_id}
    )
    assert slot_expiry == booking_expiry
    assert booking_expiry == datetime.fromisoformat(first.json()["expires_at"])


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
    ) == 2  # the practice and the regulator
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


async def test_hold_retried_with_its_idempotency_key_replays_the_first_201(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    keyed = headers(world.regulator_key, **{"Idempotency-Key": "hold-1"})
    body = {"slot_id": str(slot_id), "ttl_seconds": 600}
    first = await client.post("/v1/holds", json=body, headers=keyed)
    retried = await client.post("/v1/holds", json=body, headers=keyed)
    assert (first.status_code, retried.status_code) == (201, 201), retried.text
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    unkeyed = await client.post("/v1/holds", json=body, headers=headers(world.regulator_key))
    assert unkeyed.status_code == 409


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


async def _hold(client: httpx.AsyncClient, key: str, slot_id: object, ttl: int = 60) -> str:
    response = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id), "ttl_seconds": ttl}, headers=headers(key)
    )
    assert response.status_code == 201, response.text
    hold_id: str = response.json()["id"]
    return hold_id


async def _expiries(session: AsyncSession, hold_id: str) -> tuple[datetime, datetime]:
    row = (
        await session.execute(
            text(
                "SELECT b.expires_at, s.hold_expires_at FROM bookings b "
                "JOIN slots s ON s.id = b.slot_id WHERE b.id = :id"
            ),
            {"id": hold_id},
        )
    ).one()
    return row.expires_at, row.hold_expires_at


async def _statement_time(session: AsyncSession) -> datetime:
    value: datetime = (await session.execute(text("SELECT statement_timestamp()"))).scalar_one()
    return value


async def test_renew_extends_a_live_hold_with_200_and_tells_the_practice(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold_id = await _hold(client, world.regulator_key, slot_id, ttl=60)
    before = await _statement_time(session)
    response = await client.post(
        f"/v1/holds/{hold_id}/renew",
        json={"ttl_seconds": 600},
        headers=headers(world.regulator_key),
    )
    assert response.status_code == 200, response.text
    renewed = response.json()
    assert (renewed["id"], renewed["slot_id"], renewed["ttl_seconds"]) == (
        hold_id,
        str(slot_id),
        600,
    )
    expires_at = datetime.fromisoformat(renewed["expires_at"])
    assert before + timedelta(seconds=599) < expires_at < before + timedelta(seconds=610)
    assert await _expiries(session, hold_id) == (expires_at, expires_at)
    events = (
        await session.execute(
            text(
                "SELECT type, recipient_client_id, data->>'expires_at' AS expires_at "
                "FROM outbox_events WHERE data->>'hold_id' = :id ORDER BY id"
            ),
            {"id": hold_id},
        )
    ).all()
    assert [(e.type, e.recipient_client_id) for e in events] == [
        ("hold.created", world.source_id),
        ("hold.created", world.regulator_id),
        ("hold.renewed", world.source_id),
        ("hold.renewed", world.regulator_id),
    ]
    assert datetime.fromisoformat(events[2].expires_at) == expires_at
    audit = (
        await session.execute(
            text(
                "SELECT actor_client_id, detail FROM audit_events "
                "WHERE action = 'hold.renew' AND resource_id = :id"
            ),
            {"id": hold_id},
        )
    ).one()
    assert audit.actor_client_id == world.regulator_id
    assert audit.detail["ttl_seconds"] == 600
    assert audit.detail["capped"] is False


async def test_renew_without_a_body_gives_the_default_five_minutes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold_id = await _hold(client, world.regulator_key, slot_id, ttl=30)
    response = await client.post(f"/v1/holds/{hold_id}/renew", headers=headers(world.regulator_key))
    assert response.status_code == 200, response.text
    assert response.json()["ttl_seconds"] == 300


async def test_renew_by_another_client_is_404_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    _, other_key = await new_client(session, "regulator", territory_ids=[world.territory_id])
    hold_id = await _hold(client, world.regulator_key, slot_id)
    before = await _expiries(session, hold_id)
    response = await client.post(
        f"/v1/holds/{hold_id}/renew", json={"ttl_seconds": 600}, headers=headers(other_key)
    )
    assert response.status_code == 404
    assert response.json()["type"].endswith("not-found")
    unknown = await client.post(
        "/v1/holds/00000000-0000-4000-8000-000000000000/renew", headers=headers(other_key)
    )
    assert unknown.status_code == 404
    assert response.json()["detail"].replace(hold_id, "X") == unknown.json()["detail"].replace(
        "00000000-0000-4000-8000-000000000000", "X"
    )
    assert await _expiries(session, hold_id) == before


async def test_renew_of_a_lapsed_hold_is_409_hold_not_live(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold_id = await _hold(client, world.regulator_key, slot_id)
    for sql in (
        "UPDATE slots SET hold_expires_at = now() - interval '1 second' WHERE id = :id",
        "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE slot_id = :id",
    ):
        await session.execute(text(sql), {"id": slot_id})
    response = await client.post(f"/v1/holds/{hold_id}/renew", headers=headers(world.regulator_key))
    assert response.status_code == 409
    assert response.json()["type"].endswith("hold-not-live")
    assert "expired" in response.json()["detail"]


async def test_renew_of_a_released_hold_is_409_hold_not_live(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    auth = headers(world.regulator_key)
    hold_id = await _hold(client, world.regulator_key, slot_id)
    assert (await client.delete(f"/v1/holds/{hold_id}", headers=auth)).status_code == 204
    response = await client.post(f"/v1/holds/{hold_id}/renew", headers=auth)
    assert response.status_code == 409
    assert response.json()["type"].endswith("hold-not-live")
    assert (await _slot(session, slot_id)) == ("free", None)


async def test_renew_beyond_the_lifetime_cap_is_cut_at_the_cap(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold_id = await _hold(client, world.regulator_key, slot_id, ttl=60)
    # Taken 800 s ago (renewed since): 100 s of its 900 s life are left.
    created_at = await session.scalar(
        text(
            "UPDATE bookings SET created_at = statement_timestamp() - interval '800 seconds' "
            "WHERE id = :id RETURNING created_at"
        ),
        {"id": hold_id},
    )
    response = await client.post(
        f"/v1/holds/{hold_id}/renew",
        json={"ttl_seconds": 600},
        headers=headers(world.regulator_key),
    )
    assert response.status_code == 200, response.text
    life_ends_at = created_at + timedelta(seconds=900)
    assert datetime.fromisoformat(response.json()["expires_at"]) == life_ends_at
    assert 90 <= response.json()["ttl_seconds"] <= 100
    assert await _expiries(session, hold_id) == (life_ends_at, life_ends_at)
    capped = await session.scalar(
        text(
            "SELECT detail->>'capped' FROM audit_events "
            "WHERE action = 'hold.renew' AND resource_id = :id"
        ),
        {"id": hold_id},
    )
    assert capped == "true"


async def test_renew_of_a_hold_at_its_lifetime_cap_is_409_and_keeps_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    auth = headers(world.regulator_key)
    hold_id = await _hold(client, world.regulator_key, slot_id, ttl=900)
    before = await _expiries(session, hold_id)
    response = await client.post(
        f"/v1/holds/{hold_id}/renew", json={"ttl_seconds": 900}, headers=auth
    )
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("hold-lifetime-reached")
    assert "maximum life of 900 s" in response.json()["detail"]
    assert await _expiries(session, hold_id) == before
    renewed_events = await session.scalar(
        text(
            "SELECT count(*) FROM outbox_events WHERE type = 'hold.renewed' "
            "AND data->>'hold_id' = :id"
        ),
        {"id": hold_id},
    )
    assert renewed_events == 0


async def test_renew_ttl_above_900_seconds_is_422_naming_the_field(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold_id = await _hold(client, world.regulator_key, slot_id)
    response = await client.post(
        f"/v1/holds/{hold_id}/renew",
        json={"ttl_seconds": 901},
        headers=headers(world.regulator_key),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.ttl_seconds"


async def test_renew_by_a_practice_software_is_403(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold_id = await _hold(client, world.regulator_key, slot_id)
    response = await client.post(f"/v1/holds/{hold_id}/renew", headers=headers(world.source_key))
    assert response.status_code == 403


async def test_renewal_replayed_with_its_idempotency_key_answers_200_again(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold_id = await _hold(client, world.regulator_key, slot_id)
    keyed = headers(world.regulator_key, **{"Idempotency-Key": "renew-1"})
    body = {"ttl_seconds": 600}
    renewed = await client.post(f"/v1/holds/{hold_id}/renew", json=body, headers=keyed)
    replayed = await client.post(f"/v1/holds/{hold_id}/renew", json=body, headers=keyed)
    assert (renewed.status_code, replayed.status_code) == (200, 200), replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == renewed.json()
    events = await session.scalar(
        text(
            "SELECT count(*) FROM outbox_events WHERE type = 'hold.renewed' "
            "AND data->>'hold_id' = :id"
        ),
        {"id": hold_id},
    )
    assert events == 2  # once, to the practice and to the regulator


async def test_release_of_a_hold_that_became_a_booking_is_409_and_keeps_the_booking(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold_id = await _hold(client, world.regulator_key, slot_id)
    patient = {
        "family_name": "Durand",
        "given_name": "Léa",
        "birth_date": "1984-05-17",
        "phone": "0612345678",
    }
    booked = await client.post(
        "/v1/bookings",
        json={"hold_id": hold_id, "patient": patient},
        headers=headers(world.regulator_key, **{"Idempotency-Key": "book-1"}),
    )
    assert booked.status_code == 201, booked.text
    response = await client.delete(f"/v1/holds/{hold_id}", headers=headers(world.regulator_key))
    assert response.status_code == 409
    assert f"/v1/bookings/{hold_id}/cancel" in response.json()["detail"]
    assert (await _slot(session, slot_id))[0] == "booked"
