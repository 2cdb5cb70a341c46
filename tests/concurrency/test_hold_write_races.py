"""Two transactions on the same hold, interleaved on the real database: the second one waits on
the slot row the first one locked, and must answer from what the first one committed.

Each scenario: transaction A writes and keeps its lock; transaction B starts its own write on the
same hold and waits; A commits; B's answer is checked.
"""

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.crypto import PatientCipher
from app.core.errors import Conflict
from app.schemas.booking import BookingCreate, Patient
from app.schemas.hold import HoldCreate, HoldRenew
from app.services.bookings import service as bookings
from app.services.holds import lifecycle as holds
from app.services.holds import renew
from app.services.holds.errors import HoldNotLive
from tests.concurrency.conftest import Build
from tests.dispatch_factories import World, add_slots, make_world, regulator_of

PATIENT = Patient(
    family_name="Durand", given_name="Léa", birth_date=date(1984, 5, 17), phone="0612345678"
)
WAIT_SECONDS = 10

Write = Callable[[AsyncSession, World, uuid.UUID], Coroutine[Any, Any, Any]]


async def _book(session: AsyncSession, world: World, hold_id: uuid.UUID) -> Any:
    return await bookings.book_hold(
        session,
        regulator_of(world),
        PatientCipher(SecretStr("key")),
        BookingCreate(hold_id=hold_id, patient=PATIENT),
        str(uuid.uuid4()),
    )


async def _release(session: AsyncSession, world: World, hold_id: uuid.UUID) -> Any:
    return await holds.release_hold(session, regulator_of(world), hold_id)


async def _renew(session: AsyncSession, world: World, hold_id: uuid.UUID) -> Any:
    return await renew.renew_hold(
        session, regulator_of(world), hold_id, HoldRenew(ttl_seconds=600), max_lifetime_seconds=900
    )


async def _one_slot(session: AsyncSession) -> World:
    world = await make_world(session)
    await add_slots(session, world, 1)
    return world


async def _held(engine: AsyncEngine, world: World) -> uuid.UUID:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        hold = await holds.hold_slot(
            session, regulator_of(world), HoldCreate(slot_id=world.slot_ids[0], ttl_seconds=60)
        )
        await session.commit()
    return hold.id


async def _waiting(engine: AsyncEngine, pid: int) -> None:
    """Return once backend `pid` waits on a lock."""
    async with engine.connect() as conn:
        for _ in range(WAIT_SECONDS * 20):
            waiting = (
                await conn.execute(
                    text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": pid},
                )
            ).scalar_one_or_none()
            if waiting:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("the second transaction never waited on the first one's lock")


async def _interleave(
    engine: AsyncEngine, world: World, hold_id: uuid.UUID, first: Write, second: Write
) -> tuple[Any, BaseException | None]:
    """`first` writes and holds its locks; `second` starts and waits; `first` commits.

    Returns what `first` answered and what `second` raised (None if nothing); `second`'s
    transaction commits if it answered.
    """
    async with (
        AsyncSession(engine, expire_on_commit=False) as a,
        AsyncSession(engine, expire_on_commit=False) as b,
    ):
        answer = await first(a, world, hold_id)
        pid = (await b.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        second_write = asyncio.create_task(second(b, world, hold_id))
        await _waiting(engine, pid)
        await a.commit()
        try:
            await asyncio.wait_for(second_write, WAIT_SECONDS)
        except Exception as exc:  # noqa: BLE001 (the scenario's outcome, checked by the caller)
            await b.rollback()
            return answer, exc
        await b.commit()
        return answer, None


async def _state(engine: AsyncEngine, hold_id: uuid.UUID) -> tuple[str, str]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT b.status AS hold, s.status AS slot FROM bookings b "
                    "JOIN slots s ON s.id = b.slot_id WHERE b.id = :id"
                ),
                {"id": hold_id},
            )
        ).one()
    return row.hold, row.slot


async def test_release_waiting_behind_the_same_regulators_booking_is_409(
    committed: Build, committing_engine: AsyncEngine
) -> None:
    world = await committed(_one_slot)
    hold_id = await _held(committing_engine, world)
    _, refused = await _interleave(committing_engine, world, hold_id, _book, _release)
    assert isinstance(refused, Conflict), refused
    assert "became a booking (booked)" in refused.detail
    assert await _state(committing_engine, hold_id) == ("booked", "booked")


async def test_booking_waiting_behind_a_release_is_409_hold_not_live(
    committed: Build, committing_engine: AsyncEngine
) -> None:
    world = await committed(_one_slot)
    hold_id = await _held(committing_engine, world)
    _, refused = await _interleave(committing_engine, world, hold_id, _release, _book)
    assert isinstance(refused, HoldNotLive), refused
    assert await _state(committing_engine, hold_id) == ("released", "free")


async def test_renewal_waiting_behind_a_booking_is_409_hold_not_live(
    committed: Build, committing_engine: AsyncEngine
) -> None:
    world = await committed(_one_slot)
    hold_id = await _held(committing_engine, world)
    _, refused = await _interleave(committing_engine, world, hold_id, _book, _renew)
    assert isinstance(refused, HoldNotLive), refused
    assert "already a booking (booked)" in refused.detail
    assert await _state(committing_engine, hold_id) == ("booked", "booked")


async def test_release_waiting_behind_a_renewal_still_releases(
    committed: Build, committing_engine: AsyncEngine
) -> None:
    world = await committed(_one_slot)
    hold_id = await _held(committing_engine, world)
    _, refused = await _interleave(committing_engine, world, hold_id, _renew, _release)
    assert refused is None
    assert await _state(committing_engine, hold_id) == ("released", "free")


@pytest.mark.parametrize("second", [_renew, _book])
async def test_write_waiting_behind_a_renewal_of_the_same_hold_sees_the_new_expiry(
    committed: Build, committing_engine: AsyncEngine, second: Write
) -> None:
    world = await committed(_one_slot)
    hold_id = await _held(committing_engine, world)
    _, refused = await _interleave(committing_engine, world, hold_id, _renew, second)
    assert refused is None
    expected = "held" if second is _renew else "booked"
    assert await _state(committing_engine, hold_id) == (expected, expected)
