"""The expiry sweep on committed data: several sweepers at once, and the one in the app."""

import asyncio
import time

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.db import create_sessionmaker
from app.services import sweeper
from tests.concurrency.conftest import Build, fire
from tests.dispatch_factories import World, add_slots, headers, make_world

pytestmark = pytest.mark.slow


async def _held_then_lapsed(
    build: Build, engine: AsyncEngine, servers: list[str], count: int
) -> World:
    async def builder(session: AsyncSession) -> World:
        world = await make_world(session)
        await add_slots(session, world, count)
        return world

    world = await build(builder)
    holds = await fire(
        [
            ("POST", f"{servers[0]}/v1/holds", {"slot_id": str(s)}, headers(world.regulator_key))
            for s in world.slot_ids
        ]
    )
    assert all(h.status_code == 201 for h in holds)
    async with engine.begin() as conn:
        for table, column, key in (
            ("slots", "hold_expires_at", "id"),
            ("bookings", "expires_at", "slot_id"),
        ):
            await conn.execute(
                text(
                    f"UPDATE {table} SET {column} = now() - interval '1 second' "  # noqa: S608
                    f"WHERE {key} = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": world.slot_ids},
            )
    return world


async def test_concurrent_sweepers_expire_each_hold_exactly_once(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    world = await _held_then_lapsed(committed, committing_engine, servers, 60)
    sessionmaker = create_sessionmaker(committing_engine)
    await asyncio.gather(*(sweeper.sweep_once(sessionmaker) for _ in range(4)))
    async with committing_engine.connect() as conn:
        slots = (
            await conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status = 'free') AS free, count(*) AS total "
                    "FROM slots WHERE id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": world.slot_ids},
            )
        ).one()
        events = (
            await conn.execute(
                text(
                    "SELECT count(*) AS n, count(DISTINCT data->>'hold_id') AS holds "
                    "FROM outbox_events WHERE type = 'hold.expired' "
                    "AND data->>'slot_id' = ANY(CAST(:ids AS text[])) "
                    "AND recipient_client_id = :practice"
                ),
                {"ids": [str(s) for s in world.slot_ids], "practice": world.source_id},
            )
        ).one()
    assert (slots.free, slots.total) == (60, 60)
    assert (events.n, events.holds) == (60, 60)


async def test_the_running_service_sweeps_lapsed_holds_by_itself(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    world = await _held_then_lapsed(committed, committing_engine, servers, 1)
    # No timing asserted: wait (bounded) for the background loop of either process.
    deadline = time.monotonic() + 4 * sweeper.SWEEP_INTERVAL_SECONDS
    status = "held"
    while status != "free" and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        async with committing_engine.connect() as conn:
            status = (
                await conn.execute(
                    text("SELECT status FROM slots WHERE id = :id"), {"id": world.slot_ids[0]}
                )
            ).scalar_one()
    assert status == "free"
    async with httpx.AsyncClient() as client:
        again = await client.post(
            f"{servers[1]}/v1/holds",
            json={"slot_id": str(world.slot_ids[0])},
            headers=headers(world.regulator_key),
        )
    assert again.status_code == 201
