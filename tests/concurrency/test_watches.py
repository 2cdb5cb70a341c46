"""Watches of a search (issue 17) on two real uvicorn processes: the stream is opened on one,
the slot is freed through the other."""

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.concurrency.conftest import Build, fire, running_servers
from tests.dispatch_factories import World, add_slots, headers, make_world, new_client
from tests.sse_client import EventStream, Sse

pytestmark = pytest.mark.slow

MAX_OPEN = 3


@pytest.fixture(scope="module")
def servers(database_url: str) -> Iterator[list[str]]:
    env = {"WATCH_HEARTBEAT_SECONDS": "1", "WATCH_MAX_OPEN_PER_REGULATOR": str(MAX_OPEN)}
    with running_servers(database_url, env) as base_urls:
        yield base_urls


def _search(world: World, **extra: Any) -> dict[str, Any]:
    return {"location": {"lat": world.lat, "lon": world.lon}, **extra}


async def _watch(http: httpx.AsyncClient, base: str, world: World, key: str, **extra: Any) -> Any:
    answer = await http.post(
        f"{base}/v1/watches", json=_search(world, **extra), headers=headers(key)
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def _rpps(engine: AsyncEngine, world: World) -> str:
    async with AsyncSession(engine) as session:
        rpps: str = (
            await session.execute(
                text("SELECT rpps FROM professionals WHERE id = :id"),
                {"id": world.professional_ids[0]},
            )
        ).scalar_one()
    return rpps


def _item(world: World, rpps: str, hours: float) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)
    return {
        "external_id": f"watch-{uuid.uuid4().hex}",
        "professional_rpps": rpps,
        "site_id": str(world.site_id),
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=20)).isoformat(),
        "modality": "AMB",
        "labels": ["SNP"],
    }


async def _push(http: httpx.AsyncClient, base: str, world: World, item: dict[str, Any]) -> str:
    answer = await http.put(
        f"{base}/v1/slots", json={"slots": [item]}, headers=headers(world.source_key)
    )
    assert answer.status_code == 200, answer.text
    slot_id: str = answer.json()["results"][0]["id"]
    return slot_id


async def _heard(stream: EventStream) -> None:
    """Wait for the first heartbeat: the stream is served and its watch followed."""
    event = await stream.next(10, skip_heartbeats=False)
    assert event is not None
    assert event.event == "heartbeat", event


async def _slot_event(stream: EventStream, within: float = 10) -> Sse:
    event = await stream.next(within)
    assert event is not None
    assert event.event == "slot", event
    return event


async def test_a_slot_pushed_through_the_other_server_reaches_the_stream_within_a_second(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    one, two = servers
    world = await committed(make_world)
    rpps = await _rpps(committing_engine, world)
    async with httpx.AsyncClient(timeout=30) as http:
        watch = await _watch(http, one, world, world.regulator_key)
        assert watch["events_url"] == f"/v1/watches/{watch['id']}/events"
        url = f"{one}{watch['events_url']}"
        async with EventStream(http, url, headers(world.regulator_key)) as stream:
            assert stream.status_code == 200
            assert stream.content_type is not None
            assert stream.content_type.startswith("text/event-stream")
            await _heard(stream)
            slot_id = await _push(http, two, world, _item(world, rpps, 2))
            pushed_at = time.monotonic()
            event = await _slot_event(stream)
            waited = time.monotonic() - pushed_at
    data = event.json()
    assert data["status"] == "open"
    assert data["candidate"]["slot_id"] == slot_id
    assert data["candidate"]["why"]  # ranked as the search ranks it
    assert data["hold"] is None
    assert waited < 1.0, f"the event came {waited:.2f} s after the push's answer"


async def test_a_released_hold_reaches_the_stream_as_an_open_slot(
    servers: list[str], committed: Build
) -> None:
    one, two = servers
    world = await committed(make_world)
    async with httpx.AsyncClient(timeout=30) as http:
        _, other_key = await _other_regulator(committed, world)
        [slot_id] = await _committed_slots(committed, world, 1)
        held = await http.post(
            f"{two}/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(other_key)
        )
        assert held.status_code == 201, held.text
        watch = await _watch(http, one, world, world.regulator_key)
        async with EventStream(
            http, f"{one}{watch['events_url']}", headers(world.regulator_key)
        ) as stream:
            await _heard(stream)
            released = await http.delete(
                f"{two}/v1/holds/{held.json()['id']}", headers=headers(other_key)
            )
            assert released.status_code == 204, released.text
            released_at = time.monotonic()
            event = await _slot_event(stream)
            waited = time.monotonic() - released_at
    assert event.json()["candidate"]["slot_id"] == str(slot_id)
    assert event.json()["status"] == "open"
    assert waited < 1.0, f"the event came {waited:.2f} s after the release's answer"


async def _other_regulator(committed: Build, world: World) -> tuple[uuid.UUID, str]:
    made: list[tuple[uuid.UUID, str]] = []

    async def build(session: AsyncSession) -> World:
        made.append(await new_client(session, "regulator", territory_ids=[world.territory_id]))
        return world

    await committed(build)
    return made[0]


async def _committed_slots(committed: Build, world: World, count: int) -> list[uuid.UUID]:
    made: list[uuid.UUID] = []

    async def build(session: AsyncSession) -> World:
        made.extend(await add_slots(session, world, count))
        return world

    await committed(build)
    return made


async def test_last_event_id_resumes_with_what_opened_meanwhile(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    one, two = servers
    world = await committed(make_world)
    rpps = await _rpps(committing_engine, world)
    key = headers(world.regulator_key)
    async with httpx.AsyncClient(timeout=30) as http:
        watch = await _watch(http, one, world, world.regulator_key)
        async with EventStream(http, f"{one}{watch['events_url']}", key) as stream:
            first_slot = await _push(http, two, world, _item(world, rpps, 2))
            first = await _slot_event(stream)
        assert first.json()["candidate"]["slot_id"] == first_slot
        # Closed: two slots open meanwhile; the resume (on the other server) gets both, in
        # order, and not the one it had.
        missed = [await _push(http, one, world, _item(world, rpps, h)) for h in (3, 4)]
        assert first.id is not None
        resumed_headers = {**key, "Last-Event-ID": first.id}
        async with EventStream(http, f"{two}{watch['events_url']}", resumed_headers) as stream:
            got = [await _slot_event(stream), await _slot_event(stream)]
            with pytest.raises(TimeoutError):
                await _slot_event(stream, within=1.5)
        # Without Last-Event-ID a stream starts at the watch's creation: all three.
        async with EventStream(http, f"{two}{watch['events_url']}", key) as stream:
            everything = [await _slot_event(stream) for _ in range(3)]
        bad = await http.get(
            f"{one}{watch['events_url']}", headers={**key, "Last-Event-ID": "not-an-id"}
        )
    assert [e.json()["candidate"]["slot_id"] for e in got] == missed
    assert [e.json()["candidate"]["slot_id"] for e in everything] == [first_slot, *missed]
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["location"] == "header.Last-Event-ID"


async def test_expiry_ends_the_stream_and_an_expired_watch_is_gone(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    one, _ = servers
    world = await committed(make_world)
    key = headers(world.regulator_key)
    async with httpx.AsyncClient(timeout=30) as http:
        watch = await _watch(http, one, world, world.regulator_key, lifetime_seconds=60)
        async with committing_engine.begin() as conn:  # a 60 s minimum, brought forward
            await conn.execute(
                text("UPDATE watches SET expires_at = now() + interval '2 seconds' WHERE id = :id"),
                {"id": watch["id"]},
            )
        async with EventStream(http, f"{one}{watch['events_url']}", key) as stream:
            end = await stream.next(10)
            assert end is not None
            assert end.event == "end"
            assert end.json()["reason"] == "expired"
            assert await stream.next(5) is None
            await asyncio.wait_for(stream.closed.wait(), 5)
        again = await http.get(f"{one}{watch['events_url']}", headers=key)
    assert again.status_code == 410
    assert again.json()["type"].endswith("watch-expired")


async def test_delete_through_the_other_server_ends_the_stream(
    servers: list[str], committed: Build
) -> None:
    one, two = servers
    world = await committed(make_world)
    key = headers(world.regulator_key)
    async with httpx.AsyncClient(timeout=30) as http:
        watch = await _watch(http, one, world, world.regulator_key)
        async with EventStream(http, f"{one}{watch['events_url']}", key) as stream:
            await _heard(stream)
            deleted = await http.delete(f"{two}/v1/watches/{watch['id']}", headers=key)
            assert deleted.status_code == 204
            end = await stream.next(5)
            assert end is not None
            assert end.event == "end"
            assert end.json()["reason"] == "deleted"
            assert await stream.next(5) is None
        again = await http.get(f"{one}{watch['events_url']}", headers=key)
        twice = await http.delete(f"{two}/v1/watches/{watch['id']}", headers=key)
    assert again.status_code == 404
    assert twice.status_code == 404


async def test_two_watches_with_hold_racing_for_one_slot_hold_it_once(
    servers: list[str], committed: Build, committing_engine: AsyncEngine
) -> None:
    one, two = servers
    world = await committed(make_world)
    rpps = await _rpps(committing_engine, world)
    _, rival_key = await _other_regulator(committed, world)
    keys = [world.regulator_key, rival_key]
    async with httpx.AsyncClient(timeout=30) as http:
        watches = [await _watch(http, one, world, k, hold=True) for k in keys]
        # Each watch is served twice, once by each server: four streams race for one slot.
        streams = [
            EventStream(http, f"{base}{w['events_url']}", headers(k))
            for w, k in zip(watches, keys, strict=True)
            for base in (one, two)
        ]
        for stream in streams:
            await stream.__aenter__()
        try:
            for stream in streams:
                await _heard(stream)
            slot_id = await _push(http, two, world, _item(world, rpps, 2))
            events: list[Any] = []
            for stream in streams:
                try:
                    events.append((await _slot_event(stream, within=3)).json())
                except TimeoutError:
                    pass  # a search run after the other's hold no longer returns the slot
        finally:
            for stream in streams:
                await stream.__aexit__()
        held = [e for e in events if e["status"] == "held"]
        assert len(held) >= 1
        assert {e["hold"]["id"] for e in held} == {held[0]["hold"]["id"]}
        assert all(e["status"] in ("held", "taken", "open") for e in events)
        # The holder's other stream may say `held` too (the same hold) or `open` after it.
        assert {e["watch_id"] for e in held} == {held[0]["watch_id"]}
        # A resume replays the hold to the holding watch's new stream.
        holder = next(w for w in watches if w["id"] == held[0]["watch_id"])
        holder_key = keys[watches.index(holder)]
        async with EventStream(http, f"{one}{holder['events_url']}", headers(holder_key)) as again:
            replayed = await _slot_event(again)
    assert replayed.json()["status"] == "held"
    assert replayed.json()["hold"]["id"] == held[0]["hold"]["id"]
    async with AsyncSession(committing_engine) as session:
        holds = (
            await session.execute(
                text("SELECT count(*) FROM bookings WHERE slot_id = :s AND status = 'held'"),
                {"s": slot_id},
            )
        ).scalar_one()
        watch_holds = (
            await session.execute(
                text("SELECT count(hold_id) FROM watches WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": [w["id"] for w in watches]},
            )
        ).scalar_one()
    assert holds == 1
    assert watch_holds == 1


async def test_another_regulator_can_neither_read_nor_delete_a_watch(
    servers: list[str], committed: Build
) -> None:
    one, two = servers
    world = await committed(make_world)
    _, other_key = await _other_regulator(committed, world)
    async with httpx.AsyncClient(timeout=30) as http:
        watch = await _watch(http, one, world, world.regulator_key)
        read = await http.get(f"{two}{watch['events_url']}", headers=headers(other_key))
        deleted = await http.delete(f"{two}/v1/watches/{watch['id']}", headers=headers(other_key))
        practice = await http.get(f"{one}{watch['events_url']}", headers=headers(world.source_key))
        still = await http.delete(
            f"{one}/v1/watches/{watch['id']}", headers=headers(world.regulator_key)
        )
    assert read.status_code == 404
    assert read.headers["content-type"].startswith("application/problem+json")
    assert deleted.status_code == 404
    assert practice.status_code == 403
    assert still.status_code == 204


async def test_concurrent_creations_beyond_the_limit_are_429(
    servers: list[str], committed: Build
) -> None:
    world = await committed(make_world)
    body = _search(world)
    answers = await fire(
        [
            ("POST", f"{servers[i % 2]}/v1/watches", body, headers(world.regulator_key))
            for i in range(MAX_OPEN + 3)
        ]
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * MAX_OPEN + [429] * 3
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["type"].endswith("too-many-watches")
    assert int(refused.headers["Retry-After"]) > 0
