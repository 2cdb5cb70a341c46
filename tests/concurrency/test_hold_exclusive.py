"""A hold is exclusive, even for the client that holds it: one key, many operators, one winner."""

from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.concurrency.conftest import Build, fire
from tests.dispatch_factories import World, add_slots, headers, make_world

pytestmark = pytest.mark.slow


async def _one_slot(session: AsyncSession) -> World:
    world = await make_world(session)
    await add_slots(session, world, 1)
    return world


async def test_8_parallel_holds_on_one_slot_from_one_client_give_one_201_and_seven_409(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    world = await committed(_one_slot)
    [slot_id] = world.slot_ids
    auth = headers(world.regulator_key)
    responses = await fire(
        [("POST", f"{servers[i % 2]}/v1/holds", {"slot_id": str(slot_id)}, auth) for i in range(8)]
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 7}, statuses
    refusals = [r.json() for r in responses if r.status_code == 409]
    assert all(r["type"].endswith("slot-not-free") for r in refusals)
    async with committing_engine.connect() as conn:
        holds = (
            await conn.execute(
                text("SELECT count(*) FROM bookings WHERE slot_id = :id"), {"id": slot_id}
            )
        ).scalar_one()
    assert holds == 1
