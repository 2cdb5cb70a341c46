import uuid
from datetime import date

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import PatientCipher, UndecryptableData
from app.schemas.booking import BookingCreate, Patient
from app.schemas.hold import HoldCreate
from app.services.bookings import service as bookings
from app.services.holds import lifecycle as holds
from tests.dispatch_factories import World, add_slots, make_world, regulator_of

PATIENT = Patient(
    family_name="Durand", given_name="Léa", birth_date=date(1984, 5, 17), phone="0612345678"
)


async def _booked(
    session: AsyncSession, world: World, cipher: PatientCipher, slot_id: uuid.UUID
) -> uuid.UUID:
    hold = await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot_id))
    booking = await bookings.book_hold(
        session,
        regulator_of(world),
        cipher,
        BookingCreate(hold_id=hold.id, patient=PATIENT, reason="toux"),
        str(uuid.uuid4()),
    )
    return booking.id


async def test_booking_sealed_before_a_key_rotation_still_reads_after_it(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    booking_id = await _booked(session, world, PatientCipher(SecretStr("old")), slot_id)
    rotated = PatientCipher(SecretStr("new,old"))
    read = await bookings.read_booking(session, regulator_of(world), rotated, booking_id)
    assert read.patient == PATIENT
    assert read.reason == "toux"


async def test_patient_blob_copied_to_another_booking_does_not_open(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    cipher = PatientCipher(SecretStr("key"))
    slot_a, slot_b = await add_slots(session, world, 2)
    first = await _booked(session, world, cipher, slot_a)
    second = await _booked(session, world, cipher, slot_b)
    await session.execute(
        text(
            "UPDATE bookings SET patient = (SELECT patient FROM bookings WHERE id = :a) "
            "WHERE id = :b"
        ),
        {"a": first, "b": second},
    )
    with pytest.raises(UndecryptableData):
        await bookings.read_booking(session, regulator_of(world), cipher, second)
