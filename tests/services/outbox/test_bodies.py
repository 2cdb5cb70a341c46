"""An event's body for its recipient: the patient minimum is joined when the body is built, for
the slot's current practice software and the regulator who booked, never from the event row."""

import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.crypto import cipher_for
from app.services.outbox.bodies import EVENT_COLUMNS, PATIENT_JOIN, event_body
from tests.dispatch_factories import new_client
from tests.routers.test_bookings import PATIENT, _book, _held

_BODIES = text(
    f"""
    SELECT {EVENT_COLUMNS} FROM outbox_events e {PATIENT_JOIN}
    WHERE e.data ->> 'booking_id' = :id ORDER BY e.id
    """  # noqa: S608 (constants only)
)


async def _bodies(session: AsyncSession, booking_id: str) -> dict[uuid.UUID, dict[str, Any]]:
    cipher = cipher_for(Settings().patient_data_key)
    rows = (await session.execute(_BODIES, {"id": booking_id})).all()
    return {r.recipient_client_id: event_body(r, cipher).body.model_dump(mode="json") for r in rows}


async def test_the_patient_goes_to_the_current_practice_and_the_booking_regulator_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world, hold = await _held(client, session)
    assert (await _book(client, world, hold)).status_code == 201
    stored = await session.scalar(
        text(
            "SELECT string_agg(data::text, ' ') FROM outbox_events WHERE data->>'booking_id' = :id"
        ),
        {"id": hold["id"]},
    )
    assert PATIENT["family_name"] not in stored  # never in an event row

    bodies = await _bodies(session, hold["id"])
    assert set(bodies) == {world.source_id, world.regulator_id}
    for body in bodies.values():
        assert body["type"] == "booking.created"
        assert body["data"]["patient"]["family_name"] == PATIENT["family_name"]

    # A row addressed to anyone else (here, forged) is built without the patient.
    other_id, _ = await new_client(session, "regulator", territory_ids=[world.territory_id])
    await session.execute(
        text(
            "INSERT INTO outbox_events (type, recipient_client_id, territory_id, data) "
            "SELECT type, :other, territory_id, data FROM outbox_events "
            "WHERE data->>'booking_id' = :id AND recipient_client_id = :regulator"
        ),
        {"other": other_id, "id": hold["id"], "regulator": world.regulator_id},
    )
    # The slot changes software: its former practice is no longer told the patient.
    new_practice, _ = await new_client(
        session, "practice_software", professional_ids=world.professional_ids
    )
    await session.execute(
        text("UPDATE slots SET source_client_id = :p WHERE id = :s"),
        {"p": new_practice, "s": hold["slot_id"]},
    )
    bodies = await _bodies(session, hold["id"])
    assert "patient" not in bodies[other_id]["data"]
    assert "patient" not in bodies[world.source_id]["data"]
    assert bodies[world.regulator_id]["data"]["patient"]["given_name"] == PATIENT["given_name"]
