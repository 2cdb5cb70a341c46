"""The event feed never skips an event that committed late, and serves each exactly once.

Ids are taken when a row is written, commits happen in another order: a feed paging by id
alone would pass over the row of a transaction still running when the page was read. The first
test commits out of order on purpose; the second pages a real server's feed while two app
processes write concurrently.
"""

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from app.core.config import Settings
from app.core.crypto import cipher_for
from app.core.db import async_url
from app.schemas.event import EventFeed
from app.services.outbox.feed import read_feed
from tests.concurrency.conftest import Build, fire
from tests.dispatch_factories import World, add_slots, headers, make_world, regulator_of

pytestmark = pytest.mark.slow

_INSERT = text(
    "INSERT INTO outbox_events (type, recipient_client_id, territory_id, data) "
    "VALUES (:type, :recipient, :territory, CAST('{}' AS jsonb)) RETURNING id"
)


async def _write(conn: AsyncConnection, world: World, type_: str) -> int:
    params = {"type": type_, "recipient": world.regulator_id, "territory": world.territory_id}
    row_id: int = (await conn.execute(_INSERT, params)).scalar_one()
    return row_id


async def _page(engine: AsyncEngine, world: World, after: str | None) -> EventFeed:
    settings = Settings()
    async with AsyncSession(engine) as session, session.begin():
        return await read_feed(
            session,
            regulator_of(world),
            cipher_for(settings.patient_data_key),
            after=after,
            limit=100,
            retention_days=30,
        )


async def _until(engine: AsyncEngine, world: World, after: str | None, count: int) -> EventFeed:
    """The page after `after` once it holds `count` events (other transactions of the server,
    of other databases too, may hold the snapshot's xmin back a moment)."""
    deadline = time.monotonic() + 15
    while True:
        page = await _page(engine, world, after)
        if len(page.items) >= count or time.monotonic() > deadline:
            return page
        await asyncio.sleep(0.05)


async def test_an_event_committed_late_is_served_after_its_commit_never_skipped(
    committed: Build, committing_engine: AsyncEngine
) -> None:
    world = await committed(make_world)
    async with committing_engine.begin() as conn:
        await _write(conn, world, "test.before")
    first_page = await _until(committing_engine, world, None, 1)
    assert [e.type for e in first_page.items] == ["test.before"]

    async with committing_engine.connect() as first, committing_engine.connect() as second:
        early = await first.begin()
        late_id = await _write(first, world, "test.first")  # takes its id first...
        async with second.begin():
            next_id = await _write(second, world, "test.second")
        assert late_id < next_id
        # ...and commits last: a reader paging now sees neither (the second's transaction is
        # younger than the first, still running), rather than the second alone.
        while_running = await _page(committing_engine, world, first_page.next_after)
        assert while_running.items == []
        assert while_running.next_after == first_page.next_after
        await early.commit()

    after_commit = await _until(committing_engine, world, while_running.next_after, 2)
    assert [e.type for e in after_commit.items] == ["test.first", "test.second"]
    again = await _page(committing_engine, world, after_commit.next_after)
    assert again.items == []


async def _read_all(base: str, key: str, want: dict[str, int], seen: list[dict[str, Any]]) -> None:
    """Page the feed with small pages until it gave `want["count"]` events (once known) and one
    more page came back empty, or 30 s passed."""
    after: str | None = None
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=30) as http:
        while time.monotonic() < deadline:
            params: dict[str, Any] = {"limit": 7}
            if after is not None:
                params["after"] = after
            page = await http.get(f"{base}/v1/events", params=params, headers=headers(key))
            assert page.status_code == 200, page.text
            body = page.json()
            seen.extend(body["items"])
            after = body["next_after"]
            if not body["items"]:
                if "count" in want and len(seen) >= want["count"]:
                    return
                await asyncio.sleep(0.02)


async def _recipient_event_ids(engine: AsyncEngine, client_id: uuid.UUID) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.scalars(
            text("SELECT CAST(event_id AS text) FROM outbox_events WHERE recipient_client_id = :c"),
            {"c": client_id},
        )
        return set(rows.all())


async def test_the_feed_serves_every_event_once_while_two_processes_write_concurrently(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    slots = 30

    async def builder(session: AsyncSession) -> World:
        world = await make_world(session)
        await add_slots(session, world, slots)
        return world

    world = await committed(builder)
    want: dict[str, int] = {}
    seen: list[dict[str, Any]] = []
    reader = asyncio.create_task(_read_all(servers[0], world.regulator_key, want, seen))
    held = await fire(
        [
            (
                "POST",
                f"{servers[i % 2]}/v1/holds",
                {"slot_id": str(slot)},
                headers(world.regulator_key),
            )
            for i, slot in enumerate(world.slot_ids)
        ]
    )
    assert all(r.status_code == 201 for r in held), [r.text for r in held if r.status_code != 201]
    released = await fire(
        [
            (
                "DELETE",
                f"{servers[i % 2]}/v1/holds/{r.json()['id']}",
                None,
                headers(world.regulator_key),
            )
            for i, r in enumerate(held)
        ]
    )
    assert all(r.status_code == 204 for r in released)
    expected = await _recipient_event_ids(committing_engine, world.regulator_id)
    assert len(expected) == 2 * slots
    want["count"] = len(expected)
    await asyncio.wait_for(reader, 40)
    ids = [e["id"] for e in seen]
    assert len(ids) == len(set(ids)), "an event was served twice"
    assert set(ids) == expected, "an event was skipped"
    # Per hold, its creation before its release.
    position = {(e["type"], e["data"]["hold_id"]): i for i, e in enumerate(seen)}
    assert all(
        position[("hold.created", r.json()["id"])] < position[("hold.released", r.json()["id"])]
        for r in held
    )


async def test_a_transaction_left_open_in_another_database_does_not_stall_the_feed(
    committed: Build, committing_engine: AsyncEngine, server_url: str
) -> None:
    world = await committed(make_world)
    elsewhere = create_async_engine(async_url(server_url))  # the server's maintenance database
    try:
        async with elsewhere.connect() as other:
            await other.begin()
            await other.execute(text("SELECT pg_current_xact_id()"))  # a writer's xid, held
            async with committing_engine.begin() as conn:
                await _write(conn, world, "test.meanwhile")
            page = await _until(committing_engine, world, None, 1)
            assert [e.type for e in page.items] == ["test.meanwhile"]
            await other.rollback()
    finally:
        await elsewhere.dispose()
