import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.schemas.hold import HoldCreate
from app.services.holds import lifecycle as holds
from app.services.slots.errors import SlotNotFree
from tests.dispatch_factories import add_slots, make_world, new_client, regulator_of


async def test_hold_of_a_slot_that_is_over_is_refused(session: AsyncSession) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(
        session, world, 1, start=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    )
    with pytest.raises(SlotNotFree, match="over"):
        await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot_id))


async def test_a_slot_that_has_started_is_free_for_nobody(session: AsyncSession) -> None:
    # The shared free rule (slots.rules): started, even if not yet over, means not free; the
    # search does not offer it either.
    world = await make_world(session)
    [slot_id] = await add_slots(
        session, world, 1, start=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    )
    with pytest.raises(SlotNotFree, match="started"):
        await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot_id))


async def test_another_regulator_cannot_renew_a_live_hold(session: AsyncSession) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    first = await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot_id))
    other_id, _ = await new_client(session, "regulator", territory_ids=[world.territory_id])
    with pytest.raises(SlotNotFree, match="another regulator"):
        await holds.hold_slot(
            session,
            regulator_of(world, client_id=other_id),
            HoldCreate(slot_id=slot_id, ttl_seconds=900),
        )
    expiry = await session.scalar(
        text("SELECT expires_at FROM bookings WHERE id = :id"), {"id": first.id}
    )
    assert expiry == first.expires_at


async def test_released_slot_can_be_held_again_by_anyone(session: AsyncSession) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    first = await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot_id))
    await holds.release_hold(session, regulator_of(world), first.id)
    other_id, _ = await new_client(session, "regulator", territory_ids=[world.territory_id])
    again = await holds.hold_slot(
        session, regulator_of(world, client_id=other_id), HoldCreate(slot_id=slot_id)
    )
    assert again.id != first.id


async def test_hold_of_an_unknown_slot_is_not_found(session: AsyncSession) -> None:
    world = await make_world(session)
    with pytest.raises(NotFound):
        await holds.hold_slot(
            session,
            regulator_of(world),
            HoldCreate(slot_id=uuid.UUID("00000000-0000-4000-8000-000000000000")),
        )
