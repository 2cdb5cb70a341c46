"""Booking in a long transaction: whether the hold is live is decided at the statement's time."""

import uuid
from datetime import date

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import PatientCipher
from app.schemas.booking import BookingCreate, Patient
from app.schemas.hold import HoldCreate
from app.services.bookings import service as bookings
from app.services.holds import lifecycle as holds
from app.services.holds.errors import HoldNotLive
from tests.dispatch_factories import add_slots, make_world, regulator_of

PATIENT = Patient(
    family_name="Durand", given_name="Léa", birth_date=date(1984, 5, 17), phone="0612345678"
)


async def test_hold_that_lapsed_during_a_long_transaction_cannot_be_booked(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold = await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot_id))
    for sql in (  # the hold lapses half a second after the transaction's start
        "UPDATE slots SET hold_expires_at = now() + interval '0.5 second' WHERE id = :id",
        "UPDATE bookings SET expires_at = now() + interval '0.5 second' WHERE slot_id = :id",
    ):
        await session.execute(text(sql), {"id": slot_id})
    await session.execute(text("SELECT pg_sleep(1.5)"))
    with pytest.raises(HoldNotLive, match="expired"):
        await bookings.book_hold(
            session,
            regulator_of(world),
            PatientCipher(SecretStr("key")),
            BookingCreate(hold_id=hold.id, patient=PATIENT),
            str(uuid.uuid4()),
        )
    status = await session.scalar(text("SELECT status FROM slots WHERE id = :id"), {"id": slot_id})
    assert status == "held"
