"""Dispatch under contention: dispatches racing pushes, renewals, releases, bookings and
cancellations on the same slots from two uvicorn processes. No 5xx, no deadlock, no slot taken
twice."""

import asyncio
import random
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.concurrency.conftest import Build, new_key
from tests.concurrency.test_races import PATIENT, _world_with_slots
from tests.dispatch_factories import headers

pytestmark = pytest.mark.slow

RACE_SECONDS = 20.0
DISPATCHERS = 6
PUSHERS = 2


async def _deadlocks(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        count = await conn.scalar(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )
        return int(count or 0)


async def _agenda(engine: AsyncEngine, slot_ids: list[Any], site_id: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT s.external_id, s.start_at, s.end_at, p.rpps FROM slots s "
                "JOIN professionals p ON p.id = s.professional_id "
                "WHERE s.id = ANY(CAST(:ids AS uuid[])) ORDER BY s.external_id"
            ),
            {"ids": slot_ids},
        )
        return [
            {
                "external_id": r.external_id,
                "professional_rpps": r.rpps,
                "site_id": str(site_id),
                "start": r.start_at.isoformat(),
                "end": r.end_at.isoformat(),
                "modality": "AMB",
            }
            for r in rows
        ]


async def test_dispatches_racing_pushes_renewals_and_bookings_never_error_or_deadlock(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    world, keys = await _world_with_slots(committed, professionals=3, slots_each=10, regulators=4)
    agenda = await _agenda(committing_engine, world.slot_ids, world.site_id)
    deadlocks_before = await _deadlocks(committing_engine)
    statuses: Counter[tuple[str, int]] = Counter()
    stop = time.monotonic() + RACE_SECONDS
    rng = random.Random(9)  # noqa: S311 (test data)
    body = {"location": {"lat": world.lat, "lon": world.lon}, "limit": 3}

    async def call(client: httpx.AsyncClient, what: str, method: str, url: str, **kw: Any) -> Any:
        response = await client.request(method, url, **kw)
        statuses[(what, response.status_code)] += 1
        return response

    async def dispatcher(index: int) -> None:
        key, base = keys[index % len(keys)], servers[index % 2]
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while time.monotonic() < stop:
                got = await call(
                    client, "dispatch", "POST", "/v1/dispatch", json=body, headers=headers(key)
                )
                if got.status_code != 201:
                    await asyncio.sleep(0.02)
                    continue
                hold_id = got.json()["hold"]["id"]
                if rng.random() < 0.4:
                    await call(
                        client,
                        "renew",
                        "POST",
                        f"/v1/holds/{hold_id}/renew",
                        json={"ttl_seconds": 120},
                        headers=headers(key),
                    )
                if rng.random() < 0.5:
                    await call(
                        client, "release", "DELETE", f"/v1/holds/{hold_id}", headers=headers(key)
                    )
                    continue
                booked = await call(
                    client,
                    "book",
                    "POST",
                    "/v1/bookings",
                    json={"hold_id": hold_id, "patient": PATIENT},
                    headers=headers(key, **{"Idempotency-Key": new_key()}),
                )
                if booked.status_code == 201:
                    await call(
                        client,
                        "cancel",
                        "POST",
                        f"/v1/bookings/{hold_id}/cancel",
                        headers=headers(key, **{"Idempotency-Key": new_key()}),
                    )

    async def pusher(index: int) -> None:
        async with httpx.AsyncClient(base_url=servers[index % 2], timeout=30) as client:
            flip = index
            while time.monotonic() < stop:
                flip += 1
                items = [
                    {**item, "modality": "AMB" if flip % 2 else "HH"}
                    for item in rng.sample(agenda, len(agenda))
                ]
                await call(
                    client,
                    "push",
                    "PUT",
                    "/v1/slots",
                    json={"slots": items},
                    headers=headers(world.source_key),
                )

    await asyncio.gather(
        *(dispatcher(i) for i in range(DISPATCHERS)), *(pusher(i) for i in range(PUSHERS))
    )
    await asyncio.sleep(1.2)  # PostgreSQL flushes its statistics at most once a second
    errors = {k: v for k, v in statuses.items() if k[1] >= 500}
    assert not errors, statuses
    assert statuses[("dispatch", 201)] > 20, statuses  # the race really ran
    assert statuses[("push", 200)] > 5, statuses
    assert statuses[("renew", 200)] > 5, statuses
    assert await _deadlocks(committing_engine) == deadlocks_before, statuses
    async with committing_engine.connect() as conn:
        doubled = await conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT slot_id FROM bookings "
                "WHERE status IN ('held', 'booked') AND slot_id = ANY(CAST(:ids AS uuid[])) "
                "GROUP BY slot_id HAVING count(*) > 1) d"
            ),
            {"ids": world.slot_ids},
        )
        mismatched = await conn.scalar(
            text(
                "SELECT count(*) FROM slots s WHERE s.id = ANY(CAST(:ids AS uuid[])) AND "
                "(s.status IN ('held', 'booked')) <> EXISTS (SELECT 1 FROM bookings b "
                "WHERE b.slot_id = s.id AND b.status = s.status)"
            ),
            {"ids": world.slot_ids},
        )
    assert (doubled, mismatched) == (0, 0)
