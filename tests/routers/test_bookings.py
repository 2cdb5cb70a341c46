import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dispatch_factories import World, add_slots, headers, make_world, new_client

PATIENT = {
    "family_name": "Durand",
    "given_name": "Léa",
    "birth_date": "1984-05-17",
    "phone": "06 12 34 56 78",
}


async def _held(client: httpx.AsyncClient, session: AsyncSession) -> tuple[World, dict[str, Any]]:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    response = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    assert response.status_code == 201, response.text
    return world, response.json()


async def _book(
    client: httpx.AsyncClient,
    world: World,
    hold: dict[str, Any],
    key: str | None = None,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        "/v1/bookings",
        json={
            "hold_id": hold["id"],
            "patient": PATIENT,
            "reason": "fièvre depuis 3 jours",
            **extra,
        },
        headers=headers(world.regulator_key, **{"Idempotency-Key": key or str(uuid.uuid4())}),
    )


async def test_booking_a_live_hold_is_201_books_the_slot_and_seals_the_patient(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    response = await _book(client, world, hold)
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["status"] == "booked"
    assert booking["id"] == hold["id"]
    assert booking["slot_id"] == hold["slot_id"]
    assert booking["patient"]["phone"] == "+33612345678"
    assert booking["reason"] == "fièvre depuis 3 jours"
    slot_status = await session.scalar(
        text("SELECT status FROM slots WHERE id = :id"), {"id": hold["slot_id"]}
    )
    assert slot_status == "booked"
    stored = await session.scalar(
        text("SELECT patient FROM bookings WHERE id = :id"), {"id": booking["id"]}
    )
    assert stored is not None
    assert b"Durand" not in stored
    assert b"+33612345678" not in stored


async def test_booking_without_idempotency_key_is_400_and_books_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    response = await client.post(
        "/v1/bookings",
        json={"hold_id": hold["id"], "patient": PATIENT},
        headers=headers(world.regulator_key),
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("idempotency-key-missing")
    assert (
        await session.scalar(text("SELECT status FROM bookings WHERE id = :id"), {"id": hold["id"]})
    ) == "held"


async def test_booking_replay_with_same_key_returns_the_same_booking_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    key = str(uuid.uuid4())
    first = await _book(client, world, hold, key)
    again = await _book(client, world, hold, key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    events = await session.scalar(
        text(
            "SELECT count(*) FROM outbox_events WHERE type = 'booking.created' "
            "AND data->>'booking_id' = :id"
        ),
        {"id": hold["id"]},
    )
    assert events == 2  # one for the practice, one for the regulator
    stored = await session.scalar(
        text("SELECT response::text FROM idempotency_records WHERE key = :key"), {"key": key}
    )
    assert stored is not None
    assert "Durand" not in stored


async def test_same_key_with_another_patient_is_422(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    key = str(uuid.uuid4())
    await _book(client, world, hold, key)
    other = await client.post(
        "/v1/bookings",
        json={"hold_id": hold["id"], "patient": {**PATIENT, "given_name": "Paul"}},
        headers=headers(world.regulator_key, **{"Idempotency-Key": key}),
    )
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")


async def test_booking_an_expired_hold_is_409_and_leaves_the_slot_unbooked(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    for sql in (
        "UPDATE slots SET hold_expires_at = now() - interval '1 second' WHERE id = :slot",
        "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = :hold",
    ):
        await session.execute(text(sql), {"slot": hold["slot_id"], "hold": hold["id"]})
    response = await _book(client, world, hold)
    assert response.status_code == 409
    assert response.json()["type"].endswith("hold-not-live")
    assert "expired" in response.json()["detail"]
    row = (
        await session.execute(
            text(
                "SELECT s.status AS slot, b.status AS hold, b.patient FROM slots s "
                "JOIN bookings b ON b.slot_id = s.id WHERE b.id = :id"
            ),
            {"id": hold["id"]},
        )
    ).one()
    assert (row.slot, row.hold, row.patient) == ("held", "held", None)


async def test_booking_another_regulators_hold_is_404(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    _, other_key = await new_client(session, "regulator", territory_ids=[world.territory_id])
    response = await client.post(
        "/v1/bookings",
        json={"hold_id": hold["id"], "patient": PATIENT},
        headers=headers(other_key, **{"Idempotency-Key": "k1"}),
    )
    assert response.status_code == 404


async def test_booking_with_bad_phone_and_future_birth_date_is_422_naming_both(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    response = await client.post(
        "/v1/bookings",
        json={
            "hold_id": hold["id"],
            "patient": {**PATIENT, "phone": "12", "birth_date": "2999-01-01"},
        },
        headers=headers(world.regulator_key, **{"Idempotency-Key": "k2"}),
    )
    assert response.status_code == 422
    locations = {e["location"] for e in response.json()["errors"]}
    assert locations == {"body.patient.phone", "body.patient.birth_date"}
    assert "12" not in response.text.replace("2999", "")


async def test_regulator_cancel_frees_the_slot(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    await _book(client, world, hold)
    response = await client.post(
        f"/v1/bookings/{hold['id']}/cancel", headers=headers(world.regulator_key)
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert (
        await session.scalar(
            text("SELECT status FROM slots WHERE id = :id"), {"id": hold["slot_id"]}
        )
    ) == "free"
    rehold = await client.post(
        "/v1/holds", json={"slot_id": hold["slot_id"]}, headers=headers(world.regulator_key)
    )
    assert rehold.status_code == 201


async def test_practice_reports_fulfilled_and_the_event_goes_to_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    await _book(client, world, hold)
    response = await client.patch(
        f"/v1/bookings/{hold['id']}",
        json={"status": "fulfilled"},
        headers=headers(world.source_key),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "fulfilled"
    events = (
        await session.execute(
            text(
                "SELECT type, recipient_client_id FROM outbox_events "
                "WHERE data->>'booking_id' = :id ORDER BY id DESC LIMIT 2"
            ),
            {"id": hold["id"]},
        )
    ).all()
    # The practice that reported it and the regulator who booked.
    assert sorted((e.type, e.recipient_client_id) for e in events) == sorted(
        [("booking.fulfilled", world.source_id), ("booking.fulfilled", world.regulator_id)]
    )
    later = await client.patch(
        f"/v1/bookings/{hold['id']}", json={"status": "noshow"}, headers=headers(world.source_key)
    )
    assert later.status_code == 409


async def test_practice_cancel_cancels_the_slot(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    await _book(client, world, hold)
    response = await client.patch(
        f"/v1/bookings/{hold['id']}",
        json={"status": "cancelled"},
        headers=headers(world.source_key),
    )
    assert response.status_code == 200
    assert (
        await session.scalar(
            text("SELECT status FROM slots WHERE id = :id"), {"id": hold["slot_id"]}
        )
    ) == "cancelled"


async def test_practice_of_another_source_cannot_report_a_booking(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    await _book(client, world, hold)
    _, other_key = await new_client(session, "practice_software")
    response = await client.patch(
        f"/v1/bookings/{hold['id']}", json={"status": "noshow"}, headers=headers(other_key)
    )
    assert response.status_code == 404


async def test_reported_status_outside_the_three_is_422(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    response = await client.patch(
        f"/v1/bookings/{hold['id']}", json={"status": "booked"}, headers=headers(world.source_key)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.status"


async def test_practice_reads_the_patient_of_its_booking_and_the_read_is_audited(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    await _book(client, world, hold)
    response = await client.get(f"/v1/bookings/{hold['id']}", headers=headers(world.source_key))
    assert response.status_code == 200
    assert response.json()["patient"]["family_name"] == "Durand"
    actions = (
        await session.scalars(
            text(
                "SELECT action FROM audit_events WHERE resource_type = 'booking' "
                "AND resource_id = :id ORDER BY id"
            ),
            {"id": hold["id"]},
        )
    ).all()
    assert actions == ["booking.create", "booking.read"]
    details = await session.scalar(
        text("SELECT string_agg(detail::text, ' ') FROM audit_events WHERE resource_id = :id"),
        {"id": hold["id"]},
    )
    assert "Durand" not in details
    assert "fièvre" not in details


async def test_another_regulator_cannot_read_the_booking(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    await _book(client, world, hold)
    _, other_key = await new_client(session, "regulator", territory_ids=[world.territory_id])
    response = await client.get(f"/v1/bookings/{hold['id']}", headers=headers(other_key))
    assert response.status_code == 404


async def test_replayed_booking_answer_is_audited_as_a_read(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    key = str(uuid.uuid4())
    await _book(client, world, hold, key)
    replayed = await _book(client, world, hold, key)
    assert replayed.json()["patient"]["family_name"] == "Durand"
    rows = (
        await session.execute(
            text(
                "SELECT action, detail FROM audit_events WHERE resource_type = 'booking' "
                "AND resource_id = :id ORDER BY id"
            ),
            {"id": hold["id"]},
        )
    ).all()
    assert [(r.action, r.detail) for r in rows][1:] == [
        ("booking.read", {"idempotent_replay": True})
    ]
    assert rows[0].action == "booking.create"


async def test_cancelling_twice_answers_the_same_booking_and_audits_both_calls(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    await _book(client, world, hold)
    auth = headers(world.regulator_key)
    first = await client.post(f"/v1/bookings/{hold['id']}/cancel", headers=auth)
    again = await client.post(f"/v1/bookings/{hold['id']}/cancel", headers=auth)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "cancelled"
    details = (
        await session.scalars(
            text(
                "SELECT detail FROM audit_events WHERE action = 'booking.cancel' "
                "AND resource_id = :id ORDER BY id"
            ),
            {"id": hold["id"]},
        )
    ).all()
    assert [d.get("unchanged", False) for d in details] == [False, True]
    events = await session.scalar(
        text(
            "SELECT count(*) FROM outbox_events WHERE type = 'booking.cancelled' "
            "AND data->>'booking_id' = :id"
        ),
        {"id": hold["id"]},
    )
    assert events == 2  # one for the practice, one for the regulator


async def test_cancel_of_a_hold_that_was_never_booked_is_409(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    response = await client.post(
        f"/v1/bookings/{hold['id']}/cancel", headers=headers(world.regulator_key)
    )
    assert response.status_code == 409
    assert response.json()["booking_status"] == "held"
    assert (
        await session.scalar(
            text("SELECT status FROM slots WHERE id = :id"), {"id": hold["slot_id"]}
        )
    ) == "held"


async def test_booking_a_released_hold_is_409_hold_not_live(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    await client.delete(f"/v1/holds/{hold['id']}", headers=headers(world.regulator_key))
    response = await _book(client, world, hold)
    assert response.status_code == 409
    assert response.json()["hold_status"] == "released"
    assert response.json()["location"] == "body.hold_id"


async def test_a_child_born_today_can_be_booked(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    response = await client.post(
        "/v1/bookings",
        json={"hold_id": hold["id"], "patient": {**PATIENT, "birth_date": today}},
        headers=headers(world.regulator_key, **{"Idempotency-Key": str(uuid.uuid4())}),
    )
    assert response.status_code == 201, response.text
