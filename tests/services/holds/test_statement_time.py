"""Holds in a long transaction: expiries and the lapsed checks are at the statement's time.

The test session is one transaction, so `now()` stays at its start while `pg_sleep` lets the
clock move on, as a dispatch that waited on rivals does.
"""

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.schemas.hold import HoldCreate
from app.services.holds import lifecycle as holds
from app.services.holds.expiry import expire_holds
from tests.dispatch_factories import add_slots, make_world, new_client, regulator_of

SLEEP_SECONDS = 1.5


async def _transaction_start(session: AsyncSession) -> datetime:
    started: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
    return started


async def _sleep(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_sleep(:s)"), {"s": SLEEP_SECONDS})


async def _lapse_soon(session: AsyncSession, slot_id: object) -> None:
    """Make the slot's hold lapse half a second after the transaction's start."""
    for sql in (
        "UPDATE slots SET hold_expires_at = now() + interval '0.5 second' WHERE id = :id",
        "UPDATE bookings SET expires_at = now() + interval '0.5 second' "
        "WHERE slot_id = :id AND status = 'held'",
    ):
        await session.execute(text(sql), {"id": slot_id})


async def test_hold_taken_late_in_a_long_transaction_lasts_the_whole_ttl(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    started = await _transaction_start(session)
    await _sleep(session)
    hold = await holds.hold_slot(
        session, regulator_of(world), HoldCreate(slot_id=slot_id, ttl_seconds=60)
    )
    # Not the transaction's start + 60 s: the statement's time (after the sleep) + 60 s.
    assert hold.expires_at >= started + timedelta(seconds=60 + SLEEP_SECONDS - 0.1)
    created_at = await session.scalar(
        text("SELECT created_at FROM bookings WHERE id = :id"), {"id": hold.id}
    )
    assert created_at >= started + timedelta(seconds=SLEEP_SECONDS - 0.1)


async def test_hold_that_lapsed_during_a_long_transaction_can_be_taken_by_another(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    first = await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot_id))
    await _lapse_soon(session, slot_id)
    await _sleep(session)
    other_id, _ = await new_client(session, "regulator", territory_ids=[world.territory_id])
    second = await holds.hold_slot(
        session, regulator_of(world, client_id=other_id), HoldCreate(slot_id=slot_id)
    )
    assert second.id != first.id
    status = await session.scalar(
        text("SELECT status FROM bookings WHERE id = :id"), {"id": first.id}
    )
    assert status == "expired"


async def test_sweep_frees_a_hold_that_lapsed_during_its_transaction(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot_id))
    await _lapse_soon(session, slot_id)
    await _sleep(session)
    assert await expire_holds(session) >= 1
    status = await session.scalar(text("SELECT status FROM slots WHERE id = :id"), {"id": slot_id})
    assert status == "free"
