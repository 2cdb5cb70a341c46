"""Webhook delivery by two real app processes to a real receiver on loopback.

The processes poll only every 30 s here: an event that arrives sooner was sent because the
commit's NOTIFY woke a worker (or a retry fell due), not by the poll.
"""

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.security import new_webhook_secret
from tests.concurrency.conftest import Build, fire, running_servers
from tests.concurrency.receiver import Receiver, running_receiver
from tests.dispatch_factories import World, add_slots, headers, make_world

pytestmark = pytest.mark.slow

RETRY_DELAY = 0.3
ATTEMPTS = 4


@pytest.fixture(scope="module")
def hook_servers(database_url: str) -> Iterator[list[str]]:
    env = {
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # the receiver is on loopback
        "WEBHOOK_RETRY_DELAYS_SECONDS": str([RETRY_DELAY] * (ATTEMPTS - 1)),
        "WEBHOOK_POLL_INTERVAL_SECONDS": "30",
    }
    with running_servers(database_url, env) as base_urls:
        yield base_urls


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


async def _world(build: Build, receiver: Receiver, slots: int = 1) -> World:
    receiver.secret = new_webhook_secret()

    async def builder(session: AsyncSession) -> World:
        world = await make_world(session)
        await session.execute(
            text("UPDATE api_clients SET webhook_url = :u, webhook_secret = :s WHERE id = :id"),
            {"u": receiver.url, "s": receiver.secret, "id": world.source_id},
        )
        await add_slots(session, world, slots)
        return world

    return await build(builder)


async def _hold(base_url: str, world: World, slot: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{base_url}/v1/holds",
            json={"slot_id": str(slot)},
            headers=headers(world.regulator_key),
        )


async def _release(base_url: str, world: World, hold_id: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.delete(
            f"{base_url}/v1/holds/{hold_id}", headers=headers(world.regulator_key)
        )


async def _wait(receiver: Receiver, predicate: Callable[[Receiver], bool], within: float) -> bool:
    return await asyncio.to_thread(receiver.wait_for, predicate, within)


async def _deliveries(engine: AsyncEngine, world: World) -> list[tuple[str, int, int | None]]:
    """The client's deliveries (status, attempts, last code), once none is pending any more."""
    deadline = time.monotonic() + 5
    while True:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT status, attempts, last_status_code FROM webhook_deliveries "
                    "WHERE client_id = :c ORDER BY outbox_event_id"
                ),
                {"c": world.source_id},
            )
            found = [(r[0], r[1], r[2]) for r in rows.all()]
        if all(status != "pending" for status, _, _ in found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_a_hold_reaches_the_practice_receiver_signed_within_two_seconds(
    hook_servers: list[str], committed: Build, receiver: Receiver
) -> None:
    world = await _world(committed, receiver)
    held = await _hold(hook_servers[0], world, world.slot_ids[0])
    assert held.status_code == 201
    committed_at = time.monotonic()
    assert await _wait(receiver, lambda r: len(r.delivered()) == 1, 2.0)
    (got,) = receiver.received
    assert got.verified
    assert got.started - committed_at < 2.0
    assert got.event["type"] == "hold.created"
    assert got.event["data"]["hold_id"] == held.json()["id"]
    assert set(got.event) == {"id", "type", "occurred_at", "data"}
    assert got.webhook_id == got.event["id"]


async def test_a_500_is_retried_with_the_same_webhook_id(
    hook_servers: list[str], committed: Build, receiver: Receiver, committing_engine: AsyncEngine
) -> None:
    receiver.answer = lambda _id, seen: (500, {}) if seen == 0 else (200, {})
    world = await _world(committed, receiver)
    assert (await _hold(hook_servers[1], world, world.slot_ids[0])).status_code == 201
    assert await _wait(receiver, lambda r: len(r.delivered()) == 1, 5.0)
    first, second = receiver.received
    assert (first.status, second.status) == (500, 200)
    assert first.webhook_id == second.webhook_id
    assert first.verified
    assert second.verified
    assert second.started - first.finished >= RETRY_DELAY * 0.8
    assert await _deliveries(committing_engine, world) == [("delivered", 2, 200)]


async def test_after_the_last_attempt_the_delivery_is_failed(
    hook_servers: list[str], committed: Build, receiver: Receiver, committing_engine: AsyncEngine
) -> None:
    receiver.answer = lambda _id, _seen: (503, {"retry-after": "0"})
    world = await _world(committed, receiver)
    assert (await _hold(hook_servers[0], world, world.slot_ids[0])).status_code == 201
    assert await _wait(receiver, lambda r: len(r.received) == ATTEMPTS, 10.0)
    await asyncio.sleep(0.5)
    assert len(receiver.received) == ATTEMPTS
    assert await _deliveries(committing_engine, world) == [("failed", ATTEMPTS, 503)]


async def test_410_disables_the_endpoint(
    hook_servers: list[str], committed: Build, receiver: Receiver, committing_engine: AsyncEngine
) -> None:
    receiver.answer = lambda _id, _seen: (410, {})
    world = await _world(committed, receiver, slots=2)
    assert (await _hold(hook_servers[0], world, world.slot_ids[0])).status_code == 201
    assert await _wait(receiver, lambda r: len(r.received) == 1, 3.0)
    await asyncio.sleep(0.3)
    assert (await _hold(hook_servers[1], world, world.slot_ids[1])).status_code == 201
    await asyncio.sleep(1.0)
    assert len(receiver.received) == 1
    assert await _deliveries(committing_engine, world) == [("failed", 1, 410)]
    async with committing_engine.connect() as conn:
        disabled = await conn.scalar(
            text("SELECT webhook_disabled_at IS NOT NULL FROM api_clients WHERE id = :id"),
            {"id": world.source_id},
        )
    assert disabled


async def test_a_slots_events_arrive_in_order_under_retries(
    hook_servers: list[str], committed: Build, receiver: Receiver
) -> None:
    # Every event's first attempt fails: the next event of the slot must wait for its retry.
    receiver.answer = lambda _id, seen: (500, {}) if seen == 0 else (200, {})
    world = await _world(committed, receiver)
    slot = world.slot_ids[0]
    expected: list[str] = []
    for round_ in range(3):
        held = await _hold(hook_servers[round_ % 2], world, slot)
        assert held.status_code == 201
        released = await _release(hook_servers[(round_ + 1) % 2], world, held.json()["id"])
        assert released.status_code == 204
        expected += ["hold.created", "hold.released"]
    # Well under the poll interval (30 s here): each event leaves as soon as the one before it
    # was delivered, and a retry when it falls due, never at the next poll.
    assert await _wait(receiver, lambda r: len(r.delivered()) == len(expected), 10.0)
    assert [r.event["type"] for r in receiver.delivered()] == expected
    done_at: dict[str, float] = {}
    for got in sorted(receiver.received, key=lambda r: r.started):
        # No event of the slot leaves before every earlier one was delivered.
        assert all(
            finished <= got.started for wid, finished in done_at.items() if wid != got.webhook_id
        )
        if got.status == 200:
            done_at[got.webhook_id] = got.finished
    # The first attempt of each event leaves within a second of its predecessor's delivery.
    delivered = receiver.delivered()
    for before, after in itertools.pairwise(delivered):
        first = min(r.started for r in receiver.received if r.webhook_id == after.webhook_id)
        assert first - before.finished < 1.0, (before.event["type"], after.event["type"])


async def test_two_processes_deliver_each_event_once_and_never_at_the_same_time(
    hook_servers: list[str], committed: Build, receiver: Receiver
) -> None:
    receiver.delay = 0.02
    world = await _world(committed, receiver, slots=80)
    holds = await fire(
        [
            (
                "POST",
                f"{hook_servers[i % 2]}/v1/holds",
                {"slot_id": str(s)},
                headers(world.regulator_key),
            )
            for i, s in enumerate(world.slot_ids)
        ]
    )
    assert [h.status_code for h in holds] == [201] * len(holds), {h.text for h in holds}
    assert await _wait(receiver, lambda r: len(r.received) >= len(holds), 20.0)
    await asyncio.sleep(1.0)
    ids = [r.webhook_id for r in receiver.received]
    assert len(ids) == len(set(ids)) == len(holds)
    assert receiver.overlaps == []
    assert all(r.verified for r in receiver.received)


async def test_a_receiver_down_for_a_while_then_back_gets_every_event_once(
    hook_servers: list[str], committed: Build, receiver: Receiver, committing_engine: AsyncEngine
) -> None:
    # Down (503) for OUTAGE seconds from its first request, within the retries (ATTEMPTS - 1
    # delays of RETRY_DELAY), then back.
    outage = RETRY_DELAY * 1.5
    down_since: list[float] = []

    def answer(_id: str, _seen: int) -> tuple[int, dict[str, str]]:
        down_since[:] = down_since or [time.monotonic()]
        return (503, {}) if time.monotonic() - down_since[0] < outage else (200, {})

    receiver.answer = answer
    world = await _world(committed, receiver, slots=12)
    holds = await fire(
        [
            (
                "POST",
                f"{hook_servers[i % 2]}/v1/holds",
                {"slot_id": str(s)},
                headers(world.regulator_key),
            )
            for i, s in enumerate(world.slot_ids)
        ]
    )
    assert [h.status_code for h in holds] == [201] * len(holds), {h.text for h in holds}
    assert await _wait(receiver, lambda r: len(r.delivered()) >= len(holds), 10.0)
    await asyncio.sleep(0.5)
    assert any(r.status == 503 for r in receiver.received)  # it was down
    delivered_ids = [r.webhook_id for r in receiver.delivered()]
    assert len(delivered_ids) == len(set(delivered_ids)) == len(holds)  # each once
    assert {r.event["data"]["hold_id"] for r in receiver.delivered()} == {
        h.json()["id"] for h in holds
    }
    by_id: dict[str, list[dict[str, object]]] = {}
    for got in receiver.received:  # a repeat is the same event: same webhook-id, same body
        assert got.verified
        assert got.webhook_id == got.event["id"]
        by_id.setdefault(got.webhook_id, []).append(got.event)
    assert all(all(e == events[0] for e in events) for events in by_id.values())
    assert {status for status, _, _ in await _deliveries(committing_engine, world)} == {"delivered"}
