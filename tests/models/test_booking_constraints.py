"""At most one active booking (held, booked, fulfilled, noshow) per slot, in the database."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.models.rows import (
    CHECK_VIOLATION,
    UNIQUE_VIOLATION,
    SlotMaker,
    insert,
    new_client,
    refusal,
)

BOOKING_SQL = (
    "INSERT INTO bookings (slot_id, regulator_client_id, status, expires_at) "
    "VALUES (:slot_id, :regulator, :status, now() + interval '5 minutes') RETURNING id"
)
ACTIVE = ["held", "booked", "fulfilled", "noshow"]
INACTIVE = ["released", "expired", "cancelled"]


@pytest.fixture
async def slot_id(slots: SlotMaker) -> uuid.UUID:
    return await slots.add("2030-03-02T10:00:00+01:00", "2030-03-02T10:20:00+01:00")


@pytest.fixture
async def regulator_id(connection: AsyncConnection) -> uuid.UUID:
    return await new_client(connection, role="regulator")


async def book(
    connection: AsyncConnection, slot_id: uuid.UUID, regulator: uuid.UUID, status: str
) -> uuid.UUID:
    result: uuid.UUID = await insert(
        connection, BOOKING_SQL, slot_id=slot_id, regulator=regulator, status=status
    )
    return result


@pytest.mark.parametrize("first", ACTIVE)
@pytest.mark.parametrize("second", ACTIVE)
async def test_second_active_booking_on_one_slot_is_refused(
    connection: AsyncConnection,
    slot_id: uuid.UUID,
    regulator_id: uuid.UUID,
    first: str,
    second: str,
) -> None:
    await book(connection, slot_id, regulator_id, first)
    refused = await refusal(
        connection, BOOKING_SQL, slot_id=slot_id, regulator=regulator_id, status=second
    )
    assert refused == (UNIQUE_VIOLATION, "uq_bookings_active_slot")


@pytest.mark.parametrize("ended", INACTIVE)
async def test_ended_booking_does_not_block_a_new_one(
    connection: AsyncConnection, slot_id: uuid.UUID, regulator_id: uuid.UUID, ended: str
) -> None:
    await book(connection, slot_id, regulator_id, ended)
    await book(connection, slot_id, regulator_id, ended)
    await book(connection, slot_id, regulator_id, "held")


async def test_reviving_an_ended_booking_beside_an_active_one_is_refused(
    connection: AsyncConnection, slot_id: uuid.UUID, regulator_id: uuid.UUID
) -> None:
    cancelled = await book(connection, slot_id, regulator_id, "cancelled")
    await book(connection, slot_id, regulator_id, "booked")
    refused = await refusal(
        connection, "UPDATE bookings SET status = 'booked' WHERE id = :id", id=cancelled
    )
    assert refused == (UNIQUE_VIOLATION, "uq_bookings_active_slot")


async def test_unknown_booking_status_is_refused(
    connection: AsyncConnection, slot_id: uuid.UUID, regulator_id: uuid.UUID
) -> None:
    refused = await refusal(
        connection, BOOKING_SQL, slot_id=slot_id, regulator=regulator_id, status="pending"
    )
    assert refused == (CHECK_VIOLATION, "ck_bookings_status")
