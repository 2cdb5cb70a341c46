"""Who receives what, by webhook, from two real app processes to real receivers on loopback.

A practice software and a regulator each register a webhook; a second practice software and a
second regulator of the same territory do too. The booking's patient minimum reaches the slot's
practice and the regulator who booked, and nobody else; the regulator hears of the practice's
cancellation; a rotated secret signs beside the new one for its overlap, then no more.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.core.security import new_webhook_secret
from tests.concurrency.conftest import Build, running_servers
from tests.concurrency.receiver import Receiver, running_receiver
from tests.dispatch_factories import (
    World,
    add_professional,
    add_slots,
    headers,
    make_world,
    new_client,
)

pytestmark = pytest.mark.slow

PATIENT = {
    "family_name": "Durand",
    "given_name": "Léa",
    "birth_date": "1984-05-17",
    "phone": "06 12 34 56 78",
}
REASON = "fièvre depuis 3 jours"


@pytest.fixture(scope="module")
def hook_servers(database_url: str) -> Iterator[list[str]]:
    env = {
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # the receivers are on loopback
        "WEBHOOK_RETRY_DELAYS_SECONDS": "[0.3, 0.3]",
        "WEBHOOK_POLL_INTERVAL_SECONDS": "1",
    }
    with running_servers(database_url, env) as base_urls:
        yield base_urls


@dataclass
class Parties:
    world: World
    practice: Receiver  # the slots' practice software (world.source_id)
    regulator: Receiver  # the regulator who holds and books (world.regulator_id)
    other_practice: Receiver
    other_regulator: Receiver
    other_regulator_key: str
    admin_key: str


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running_receiver()) for _ in range(4)]


async def _hook(session: AsyncSession, client_id: uuid.UUID, receiver: Receiver) -> None:
    receiver.secret = new_webhook_secret()
    await session.execute(
        text("UPDATE api_clients SET webhook_url = :u, webhook_secret = :s WHERE id = :id"),
        {"u": receiver.url, "s": receiver.secret, "id": client_id},
    )


async def _parties(build: Build, receivers: list[Receiver]) -> Parties:
    practice, regulator, other_practice, other_regulator = receivers
    keys: dict[str, str] = {}

    async def builder(session: AsyncSession) -> World:
        world = await make_world(session)
        other_pro = await add_professional(session, world.site_id)
        other_practice_id, _ = await new_client(
            session, "practice_software", professional_ids=[other_pro]
        )
        other_regulator_id, keys["other_regulator"] = await new_client(
            session, "regulator", territory_ids=[world.territory_id]
        )
        _, keys["admin"] = await new_client(session, "admin", territory_ids=[world.territory_id])
        await _hook(session, world.source_id, practice)
        await _hook(session, world.regulator_id, regulator)
        await _hook(session, other_practice_id, other_practice)
        await _hook(session, other_regulator_id, other_regulator)
        await add_slots(session, world, 3)
        return world

    world = await build(builder)
    return Parties(
        world,
        practice,
        regulator,
        other_practice,
        other_regulator,
        keys["other_regulator"],
        keys["admin"],
    )


async def _call(
    method: str, url: str, key: str, body: dict[str, Any] | None = None, **extra: str
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.request(method, url, json=body, headers=headers(key, **extra))


async def _hold_and_book(base: str, world: World, slot: uuid.UUID) -> str:
    held = await _call("POST", f"{base}/v1/holds", world.regulator_key, {"slot_id": str(slot)})
    assert held.status_code == 201, held.text
    booked = await _call(
        "POST",
        f"{base}/v1/bookings",
        world.regulator_key,
        {"hold_id": held.json()["id"], "patient": PATIENT, "reason": REASON},
        **{"Idempotency-Key": str(uuid.uuid4())},
    )
    assert booked.status_code == 201, booked.text
    booking_id: str = booked.json()["id"]
    return booking_id


async def _wait(receiver: Receiver, count: int, within: float = 10.0) -> list[dict[str, Any]]:
    await asyncio.to_thread(receiver.wait_for, lambda r: len(r.delivered()) >= count, within)
    return [r.event for r in receiver.delivered()]


async def _feed_item(base: str, key: str, event_id: str) -> dict[str, Any]:
    """The event of that id in the client's feed (waiting for its transaction to be over)."""
    for _ in range(100):
        after: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 500}
            if after:
                params["after"] = after
            async with httpx.AsyncClient(timeout=30) as http:
                page = await http.get(f"{base}/v1/events", params=params, headers=headers(key))
            assert page.status_code == 200, page.text
            found: list[dict[str, Any]] = [i for i in page.json()["items"] if i["id"] == event_id]
            if found:
                return found[0]
            if not page.json()["items"]:
                break
            after = page.json()["next_after"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"event {event_id} never reached the feed")


async def test_the_patient_minimum_reaches_the_booked_practice_and_the_booking_regulator_only(
    hook_servers: list[str],
    committed: Build,
    receivers: list[Receiver],
    committing_engine: AsyncEngine,
) -> None:
    parties = await _parties(committed, receivers)
    world = parties.world
    booking_id = await _hold_and_book(hook_servers[0], world, world.slot_ids[0])
    # The other regulator holds and releases another slot of the same practice.
    other = await _call(
        "POST",
        f"{hook_servers[1]}/v1/holds",
        parties.other_regulator_key,
        {"slot_id": str(world.slot_ids[1])},
    )
    assert other.status_code == 201, other.text
    released = await _call(
        "DELETE", f"{hook_servers[0]}/v1/holds/{other.json()['id']}", parties.other_regulator_key
    )
    assert released.status_code == 204

    practice = await _wait(parties.practice, 4)
    regulator = await _wait(parties.regulator, 2)
    other_regulator = await _wait(parties.other_regulator, 2)
    await asyncio.sleep(0.5)  # anything else on its way arrives meanwhile

    assert [e["type"] for e in regulator] == ["hold.created", "booking.created"]
    assert [e["type"] for e in other_regulator] == ["hold.created", "hold.released"]
    assert sorted(e["type"] for e in practice) == sorted(
        ["hold.created", "booking.created", "hold.created", "hold.released"]
    )
    assert parties.other_practice.received == []
    expected_patient = {**PATIENT, "phone": "+33612345678"}
    for events in (practice, regulator):
        (booked,) = [e for e in events if e["type"] == "booking.created"]
        assert booked["data"]["booking_id"] == booking_id
        assert booked["data"]["patient"] == expected_patient
        assert booked["data"]["reason"] == REASON
    every = [*parties.practice.received, *parties.regulator.received]
    every += parties.other_regulator.received
    assert all(r.verified for r in every)
    for got in every:
        if got.event["type"] != "booking.created":
            assert "patient" not in got.event["data"]
            assert b"Durand" not in got.body
    # Each recipient's event is its own, with its own id.
    assert len({r.webhook_id for r in every}) == len(every)

    # The feed gives the practice the very body its webhook got.
    (hooked,) = [e for e in practice if e["type"] == "booking.created"]
    assert await _feed_item(hook_servers[1], world.source_key, hooked["id"]) == hooked

    async with committing_engine.connect() as conn:
        audited = (
            await conn.execute(
                text(
                    "SELECT actor, detail FROM audit_events "
                    "WHERE action = 'booking.patient_disclose' AND resource_id = :id"
                ),
                {"id": booking_id},
            )
        ).all()
    by_channel = {(a.detail["channel"], a.detail["to_client_id"]) for a in audited}
    assert by_channel == {
        ("webhook", str(world.source_id)),
        ("webhook", str(world.regulator_id)),
        ("feed", str(world.source_id)),
    }
    assert all("Durand" not in str(a.detail) and "+336" not in str(a.detail) for a in audited)


async def test_the_regulator_receives_the_practices_cancellation(
    hook_servers: list[str], committed: Build, receivers: list[Receiver]
) -> None:
    parties = await _parties(committed, receivers)
    world = parties.world
    booking_id = await _hold_and_book(hook_servers[1], world, world.slot_ids[0])
    cancelled = await _call(
        "PATCH",
        f"{hook_servers[0]}/v1/bookings/{booking_id}",
        world.source_key,
        {"status": "cancelled"},
    )
    assert cancelled.status_code == 200, cancelled.text
    regulator = await _wait(parties.regulator, 3)
    assert [e["type"] for e in regulator] == [
        "hold.created",
        "booking.created",
        "booking.cancelled",
    ]
    last = regulator[-1]
    assert last["data"]["booking_id"] == booking_id
    assert last["data"]["by"] == "practice"
    assert last["data"]["external_id"]
    assert "patient" not in last["data"]
    assert all(r.verified for r in parties.regulator.received)
    # The practice that cancelled is told too, in the same order.
    practice = await _wait(parties.practice, 3)
    assert [e["type"] for e in practice] == ["hold.created", "booking.created", "booking.cancelled"]


def _verifies(secret: str, body: bytes, signed: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, signed)
    except WebhookVerificationError:
        return False
    return True


async def test_a_rotated_secret_signs_beside_the_new_one_for_its_overlap_then_no_more(
    hook_servers: list[str],
    committed: Build,
    receivers: list[Receiver],
    committing_engine: AsyncEngine,
) -> None:
    parties = await _parties(committed, receivers)
    world, receiver = parties.world, parties.practice
    old = receiver.secret
    first = await _call(
        "POST",
        f"{hook_servers[0]}/v1/holds",
        world.regulator_key,
        {"slot_id": str(world.slot_ids[0])},
    )
    assert first.status_code == 201
    await _wait(receiver, 1)

    rotated = await _call(
        "POST", f"{hook_servers[1]}/v1/clients/{world.source_id}/webhook-secret", parties.admin_key
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["webhook_secret"]
    assert new.startswith("whsec_")
    assert new != old
    released = await _call(
        "DELETE", f"{hook_servers[0]}/v1/holds/{first.json()['id']}", world.regulator_key
    )
    assert released.status_code == 204
    await _wait(receiver, 2)
    during = receiver.delivered()[1]
    assert during.event["type"] == "hold.released"
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert _verifies(old, during.body, during.headers)  # a receiver not yet switched
    assert _verifies(new, during.body, during.headers)  # a receiver already switched

    async with committing_engine.begin() as conn:  # the 24 h are over
        await conn.execute(
            text(
                "UPDATE api_clients SET previous_webhook_secret_expires_at = now() "
                "- interval '1 second' WHERE id = :id"
            ),
            {"id": world.source_id},
        )
    again = await _call(
        "POST",
        f"{hook_servers[1]}/v1/holds",
        world.regulator_key,
        {"slot_id": str(world.slot_ids[1])},
    )
    assert again.status_code == 201
    await _wait(receiver, 3)
    after = receiver.delivered()[2]
    assert _verifies(new, after.body, after.headers)
    assert not _verifies(old, after.body, after.headers)

    # A tampered body, or the same delivery replayed with an old timestamp, is refused.
    tampered = after.body.replace(b"hold.created", b"hold.released")
    assert not _verifies(new, tampered, after.headers)
    stale = {
        **after.headers,
        "webhook-timestamp": str(int(after.headers["webhook-timestamp"]) - 600),
    }
    assert not _verifies(new, after.body, stale)
