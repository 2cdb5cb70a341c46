"""The slot rules that the database itself enforces, whatever the code above it does."""

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.models.rows import (
    CHECK_VIOLATION,
    EXCLUSION_VIOLATION,
    UNIQUE_VIOLATION,
    SlotMaker,
    new_client,
    new_professional,
    refusal,
)

T10 = "2030-03-02T10:00:00+01:00"
T1020 = "2030-03-02T10:20:00+01:00"
T1040 = "2030-03-02T10:40:00+01:00"
T1010 = "2030-03-02T10:10:00+01:00"
T1030 = "2030-03-02T10:30:00+01:00"


async def test_slot_ending_before_it_starts_is_refused(slots: SlotMaker) -> None:
    assert await slots.refused(T1020, T10) == (CHECK_VIOLATION, "ck_slots_end_after_start")


async def test_slot_of_zero_length_is_refused(slots: SlotMaker) -> None:
    assert await slots.refused(T10, T10) == (CHECK_VIOLATION, "ck_slots_end_after_start")


async def test_held_slot_without_expiry_is_refused(
    slots: SlotMaker, connection: AsyncConnection
) -> None:
    slot_id = await slots.add(T10, T1020)
    refused = await refusal(
        connection, "UPDATE slots SET status = 'held' WHERE id = :id", id=slot_id
    )
    assert refused == (CHECK_VIOLATION, "ck_slots_held_has_expiry")


async def test_same_external_id_twice_from_one_source_is_refused(slots: SlotMaker) -> None:
    await slots.add(T10, T1020, external_id="agenda-42")
    refused = await slots.refused(T1040, "2030-03-02T11:00:00+01:00", external_id="agenda-42")
    assert refused == (UNIQUE_VIOLATION, "uq_slots_source_external_id")


async def test_same_external_id_from_two_sources_is_accepted(
    slots: SlotMaker, connection: AsyncConnection
) -> None:
    other_source = await new_client(connection)
    await slots.add(T10, T1020, external_id="agenda-42")
    await slots.add(T1020, T1040, external_id="agenda-42", client_id=other_source)


@pytest.mark.parametrize("status", ["free", "held", "booked"])
async def test_overlapping_active_slots_of_one_professional_are_refused(
    slots: SlotMaker, status: str
) -> None:
    await slots.add(T10, T1020, status=status)
    refused = await slots.refused(T1010, T1030)
    assert refused == (EXCLUSION_VIOLATION, "ex_slots_professional_overlap")


async def test_a_slot_inside_another_is_refused(slots: SlotMaker) -> None:
    await slots.add(T10, T1040)
    refused = await slots.refused(T1010, T1030, status="booked")
    assert refused == (EXCLUSION_VIOLATION, "ex_slots_professional_overlap")


async def test_adjacent_slots_are_accepted(slots: SlotMaker) -> None:
    await slots.add(T10, T1020)
    await slots.add(T1020, T1040)


async def test_cancelled_slot_may_overlap_an_active_one(slots: SlotMaker) -> None:
    await slots.add(T10, T1020, status="cancelled")
    await slots.add(T10, T1020)
    await slots.add(T1010, T1030, status="cancelled")


async def test_overlapping_slots_of_two_professionals_are_accepted(
    slots: SlotMaker, connection: AsyncConnection
) -> None:
    other = await new_professional(connection)
    await slots.add(T10, T1020)
    await slots.add(T10, T1020, professional_id=other)


async def test_reactivating_a_cancelled_overlapping_slot_is_refused(
    slots: SlotMaker, connection: AsyncConnection
) -> None:
    await slots.add(T10, T1020)
    cancelled = await slots.add(T1010, T1030, status="cancelled")
    refused = await refusal(
        connection, "UPDATE slots SET status = 'free' WHERE id = :id", id=cancelled
    )
    assert refused == (EXCLUSION_VIOLATION, "ex_slots_professional_overlap")


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("status", "'maybe'", "ck_slots_status"),
        ("modality", "'XX'", "ck_slots_modality"),
        ("labels", "ARRAY['SNP','SECRET']", "ck_slots_labels"),
    ],
)
async def test_unknown_slot_enum_values_are_refused(
    slots: SlotMaker, connection: AsyncConnection, column: str, value: str, constraint: str
) -> None:
    slot_id: uuid.UUID = await slots.add(T10, T1020)
    refused = await refusal(
        connection,
        f"UPDATE slots SET {column} = {value} WHERE id = :id",  # noqa: S608 - test constants
        id=slot_id,
    )
    assert refused == (CHECK_VIOLATION, constraint)
    assert (
        await connection.execute(text("SELECT status FROM slots WHERE id = :id"), {"id": slot_id})
    ).scalar_one() == "free"
