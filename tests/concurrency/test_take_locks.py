"""Dispatch's waiting pass on committed data, with rival transactions held open by hand."""

import asyncio
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.core.config import Settings
from app.schemas.dispatch import DispatchRequest
from app.services.dispatch.errors import DispatchContention
from app.services.dispatch.service import dispatch
from app.services.holds.take import take_first_free
from tests.concurrency.conftest import Build
from tests.dispatch_factories import World, add_slots, make_world, new_client, regulator_of

pytestmark = pytest.mark.slow

_TAKE = (
    "UPDATE slots SET status = 'held', hold_expires_at = now() + interval '5 minutes' "
    "WHERE id = :id"
)


async def _waiters(engine: AsyncEngine, count: int) -> None:
    """Return once `count` sessions of this database wait on a lock."""
    async with engine.connect() as conn:
        for _ in range(1000):
            waiting = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            ).scalar_one()
            await conn.rollback()  # pg_stat_activity is a snapshot per transaction
            if waiting >= count:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"{count} sessions never waited on a lock")


async def _rival(engine: AsyncEngine, slot_id: uuid.UUID) -> AsyncConnection:
    conn = await engine.connect()
    await conn.begin()
    await conn.execute(text(_TAKE), {"id": slot_id})
    return conn


async def test_two_dispatches_waiting_on_candidates_in_opposite_orders_never_deadlock(
    committed: Build, committing_engine: AsyncEngine
) -> None:
    """Two patients see the same two slots ranked in opposite orders while two rivals are
    taking both: each dispatch waits, both end with nothing, and neither fails."""
    ids: dict[str, uuid.UUID] = {}

    async def builder(session: AsyncSession) -> World:
        world = await make_world(session)
        ids["r"], ids["s"] = await add_slots(session, world, 2)
        ids["a"], _ = await new_client(session, "regulator", territory_ids=[world.territory_id])
        ids["b"], _ = await new_client(session, "regulator", territory_ids=[world.territory_id])
        return world

    world = await committed(builder)
    r, s = ids["r"], ids["s"]
    taking_s = await _rival(committing_engine, s)
    taking_r = await _rival(committing_engine, r)

    async def dispatch_pass(regulator: uuid.UUID, order: list[uuid.UUID]) -> object:
        async with AsyncSession(committing_engine) as session, session.begin():
            return await take_first_free(
                session, regulator_of(world, client_id=regulator), order, 300
            )

    a = asyncio.create_task(dispatch_pass(ids["a"], [r, s]))
    await _waiters(committing_engine, 1)
    b = asyncio.create_task(dispatch_pass(ids["b"], [s, r]))
    await _waiters(committing_engine, 2)
    await taking_r.commit()
    await _waiters(committing_engine, 2)
    await taking_s.commit()
    outcomes = await asyncio.gather(a, b, return_exceptions=True)
    await taking_r.close()
    await taking_s.close()
    assert list(outcomes) == [None, None]


async def test_a_dispatch_lets_go_of_the_slot_it_lost_before_it_ends(
    committed: Build, committing_engine: AsyncEngine
) -> None:
    """A dispatch waits for its best candidate, loses it to a rival, takes the next one: while
    its transaction is still open, nobody waits for it on the slot it lost."""
    ids: dict[str, uuid.UUID] = {}

    async def builder(session: AsyncSession) -> World:
        world = await make_world(session)
        ids["lost"], ids["next"] = await add_slots(session, world, 2)
        return world

    world = await committed(builder)
    lost, after = ids["lost"], ids["next"]
    taking = await _rival(committing_engine, lost)
    async with AsyncSession(committing_engine) as session, session.begin():
        task = asyncio.create_task(take_first_free(session, regulator_of(world), [lost], 300))
        await _waiters(committing_engine, 1)
        await taking.commit()  # the rival wins `lost`
        assert await task is None
        hold = await take_first_free(session, regulator_of(world), [after], 300)
        assert hold is not None
        assert hold.slot_id == after
        async with committing_engine.connect() as other:
            # Before the savepoints, the lost pass kept `lost` locked until the dispatch ended.
            await other.execute(text("SET lock_timeout = '200ms'"))
            row = await other.execute(
                text("SELECT id FROM slots WHERE id = :id FOR UPDATE"), {"id": lost}
            )
            assert row.scalar_one() == lost
            await other.rollback()
    await taking.close()


async def test_a_dispatch_that_can_only_wait_gives_up_within_its_budget(
    committed: Build, committing_engine: AsyncEngine
) -> None:
    """Its one candidate is being taken by a rival that never finishes: the dispatch answers
    503 dispatch-contention once its wait budget is spent, not after the statement timeout."""
    ids: dict[str, uuid.UUID] = {}

    async def builder(session: AsyncSession) -> World:
        world = await make_world(session)
        [ids["slot"]] = await add_slots(session, world, 1)
        return world

    world = await committed(builder)
    taking = await _rival(committing_engine, ids["slot"])
    settings = Settings(dispatch_budget_seconds=0.4, api_key_cache_seconds=0)
    body = DispatchRequest.model_validate({"location": {"lat": world.lat, "lon": world.lon}})
    started = time.monotonic()
    with pytest.raises(DispatchContention):
        async with AsyncSession(committing_engine) as session, session.begin():
            await dispatch(session, regulator_of(world), body, settings=settings)
    assert time.monotonic() - started < 3  # the statement timeout is 5 s
    await taking.rollback()
    await taking.close()
