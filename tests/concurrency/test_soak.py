"""Soak: a mission day compressed, across two real app processes, against a flaky receiver.

For `SOAK_SECONDS` (120 in CI; `make soak` runs the 10 minutes of the issue): practice software
pushing and syncing, regulators searching, holding, booking, releasing, cancelling and
dispatching, the practice reporting outcomes, en-sus requests opened and accepted, every event
delivered by webhook to receivers that refuse a fifth of the attempts with a 503. Then, from
outside: no 5xx was answered, the memory of each process and the database connections stayed
flat over the second half, every delivery was delivered, and the invariants of DESIGN.md hold
in the database (no slot held or booked twice, a slot's status agrees with its bookings, no
two active slots of a professional overlap).
"""

import asyncio
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs in the lock file
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.security import new_webhook_secret
from tests.concurrency.conftest import Build, running_servers
from tests.concurrency.receiver import running_receiver
from tests.dispatch_factories import World, headers, make_world

pytestmark = pytest.mark.slow

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "120"))
PATIENT = {
    "family_name": "Martin",
    "given_name": "Jeanne",
    "birth_date": "1950-02-03",
    "phone": "+33612345678",
}


@dataclass
class Load:
    urls: list[str]
    world: World
    rpps: list[str]
    until: float
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    next_start: dict[str, datetime] = field(default_factory=dict)

    def url(self) -> str:
        return random.choice(self.urls)  # noqa: S311 (load shaping only)

    def note(self, what: str, response: httpx.Response) -> None:
        self.statuses[(what, response.status_code)] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{what} {response.status_code} {response.text[:300]}")

    def slot_items(self, rpps: str, count: int) -> list[dict[str, Any]]:
        start = self.next_start[rpps]
        items = []
        for _ in range(count):
            items.append(
                {
                    "external_id": f"soak-{uuid.uuid4().hex[:12]}",
                    "professional_rpps": rpps,
                    "site_id": str(self.world.site_id),
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=10)).isoformat(),
                    "modality": "AMB",
                    "labels": ["SNP"],
                }
            )
            start += timedelta(minutes=10)
        self.next_start[rpps] = start
        return items


def _flaky(_webhook_id: str, _seen: int) -> tuple[int, dict[str, str]]:
    return (503, {}) if random.random() < 0.2 else (200, {})  # noqa: S311 (a flaky receiver)


async def _loop(
    load: Load, pause: float, step: Callable[[httpx.AsyncClient], Awaitable[None]]
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        while time.monotonic() < load.until:
            await step(http)
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))  # noqa: S311


async def _push(load: Load, http: httpx.AsyncClient) -> None:
    rpps = random.choice(load.rpps)  # noqa: S311
    body = {"slots": load.slot_items(rpps, 4)}
    response = await http.put(
        f"{load.url()}/v1/slots", json=body, headers=headers(load.world.source_key)
    )
    load.note("push", response)


async def _sync(load: Load, http: httpx.AsyncClient) -> None:
    rpps = random.choice(load.rpps)  # noqa: S311
    items = load.slot_items(rpps, 3)
    window = {"start": items[0]["start"], "end": items[-1]["end"]}
    response = await http.post(
        f"{load.url()}/v1/slots/sync",
        json={"window": window, "slots": items},
        headers=headers(load.world.source_key),
    )
    load.note("sync", response)


async def _regulate(load: Load, http: httpx.AsyncClient) -> None:
    regulator = headers(load.world.regulator_key)
    search = {"location": {"lat": load.world.lat + 0.01, "lon": load.world.lon}}
    found = await http.post(f"{load.url()}/v1/searches", json=search, headers=regulator)
    load.note("search", found)
    if found.status_code != 200 or not found.json()["candidates"]:
        return
    answer = found.json()
    candidate = random.choice(answer["candidates"][:3])  # noqa: S311
    held = await http.post(
        f"{load.url()}/v1/holds",
        json={"slot_id": candidate["slot_id"], "search_id": answer["search_id"]},
        headers=regulator,
    )
    load.note("hold", held)
    if held.status_code != 201:
        return
    hold_id = held.json()["id"]
    if random.random() < 0.2:  # noqa: S311 (the patient went elsewhere)
        load.note(
            "release", await http.delete(f"{load.url()}/v1/holds/{hold_id}", headers=regulator)
        )
        return
    booked = await http.post(
        f"{load.url()}/v1/bookings",
        json={"hold_id": hold_id, "patient": PATIENT},
        headers={**regulator, "Idempotency-Key": str(uuid.uuid4())},
    )
    load.note("book", booked)
    if booked.status_code != 201:
        return
    booking = booked.json()["id"]
    roll = random.random()  # noqa: S311
    if roll < 0.2:
        cancel = await http.post(f"{load.url()}/v1/bookings/{booking}/cancel", headers=regulator)
        load.note("cancel", cancel)
    elif roll < 0.5:
        outcome = random.choice(["fulfilled", "noshow", "cancelled"])  # noqa: S311
        reported = await http.patch(
            f"{load.url()}/v1/bookings/{booking}",
            json={"status": outcome},
            headers=headers(load.world.source_key),
        )
        load.note("report", reported)


async def _dispatch(load: Load, http: httpx.AsyncClient) -> None:
    regulator = headers(load.world.regulator_key)
    body = {"location": {"lat": load.world.lat, "lon": load.world.lon + 0.01}, "ttl_seconds": 60}
    response = await http.post(f"{load.url()}/v1/dispatch", json=body, headers=regulator)
    load.note("dispatch", response)
    if response.status_code in (200, 201) and response.json().get("hold"):
        hold_id = response.json()["hold"]["id"]
        released = await http.delete(f"{load.url()}/v1/holds/{hold_id}", headers=regulator)
        load.note("release", released)


async def _en_sus(load: Load, http: httpx.AsyncClient) -> None:
    body = {"location": {"lat": load.world.lat, "lon": load.world.lon}, "reason": "fièvre"}
    opened = await http.post(
        f"{load.url()}/v1/requests", json=body, headers=headers(load.world.regulator_key)
    )
    load.note("request", opened)
    if opened.status_code == 201 and random.random() < 0.5:  # noqa: S311
        accepted = await http.post(
            f"{load.url()}/v1/requests/{opened.json()['id']}/accept",
            json={"professional_id": str(random.choice(load.world.professional_ids))},  # noqa: S311
            headers=headers(load.world.source_key),
        )
        load.note("accept", accepted)


def _server_processes(urls: list[str]) -> list[psutil.Process]:
    ports = {int(url.rsplit(":", 1)[1]) for url in urls}
    found = {
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in ports and c.pid
    }
    return [psutil.Process(pid) for pid in found]


async def _connections(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        count: int = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name LIKE 'snp-%'"
                )
            )
        ).scalar_one()
        return count


async def _measure(processes: list[psutil.Process], engine: AsyncEngine) -> tuple[list[int], int]:
    return [p.memory_info().rss for p in processes], await _connections(engine)


async def test_a_mission_day_leaves_everything_flat_and_consistent(
    committed: Build, committing_engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    with running_receiver() as practice, running_receiver() as regulator:
        practice.answer = regulator.answer = _flaky
        rpps: list[str] = []

        async def build(session: AsyncSession) -> World:
            world = await make_world(session, professionals=4, accepts_en_sus=True)
            for client_id, receiver in (
                (world.source_id, practice),
                (world.regulator_id, regulator),
            ):
                receiver.secret = new_webhook_secret()
                await session.execute(
                    text(
                        "UPDATE api_clients SET webhook_url = :u, webhook_secret = :s "
                        "WHERE id = :id"
                    ),
                    {"u": receiver.url, "s": receiver.secret, "id": client_id},
                )
            rpps.extend(
                (
                    await session.scalars(
                        text("SELECT rpps FROM professionals WHERE id = ANY(:p)"),
                        {"p": world.professional_ids},
                    )
                ).all()
            )
            return world

        world = await committed(build)
        env = {
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "WEBHOOK_RETRY_DELAYS_SECONDS": "[0.2, 0.5, 1, 1, 2, 2, 2, 2]",
            "HOLD_SWEEP_INTERVAL_SECONDS": "1",
        }
        with running_servers(database_url, env, log_dir=tmp_path) as urls:
            processes = _server_processes(urls)
            assert len(processes) == 2
            began = time.monotonic()
            first = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
            load = Load(
                urls,
                world,
                rpps,
                until=began + SOAK_SECONDS,
                next_start={r: first for r in rpps},
            )
            actors = [
                _loop(load, 0.3, lambda h: _push(load, h)),
                _loop(load, 2.0, lambda h: _sync(load, h)),
                _loop(load, 0.1, lambda h: _regulate(load, h)),
                _loop(load, 0.1, lambda h: _regulate(load, h)),
                _loop(load, 0.5, lambda h: _dispatch(load, h)),
                _loop(load, 2.0, lambda h: _en_sus(load, h)),
            ]

            async def halfway() -> tuple[list[int], int]:
                await asyncio.sleep(SOAK_SECONDS / 2)
                return await _measure(processes, committing_engine)

            measuring = asyncio.create_task(halfway())
            await asyncio.gather(*actors)
            middle = await measuring
            drained = await _drained(committing_engine, world, within=60)
            end = await _measure(processes, committing_engine)
        log_text = "".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("*.log")))  # noqa: ASYNC240

    done = sum(load.statuses.values())
    assert done > SOAK_SECONDS * 5, f"the load hardly ran: {load.statuses}"
    assert load.statuses[("book", 201)] > 0, load.statuses
    assert load.server_errors == [], load.server_errors[:5]
    assert "Traceback" not in log_text, log_text[-3000:]
    assert drained is None, f"deliveries still pending a minute after the load: {drained}"
    (rss_mid, conns_mid), (rss_end, conns_end) = middle, end
    for before, after in zip(rss_mid, rss_end, strict=True):
        assert after < before * 1.25 + 20 * 2**20, (rss_mid, rss_end)
    assert conns_end <= conns_mid + 4, (conns_mid, conns_end)
    await _assert_invariants(committing_engine, world)


async def _drained(engine: AsyncEngine, world: World, within: float) -> str | None:
    """None once every delivery of the world's clients is delivered; else what is left."""
    deadline = time.monotonic() + within
    left: list[Any] = []
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            left = list(
                await conn.execute(
                    text(
                        "SELECT status, attempts, last_status_code, last_error, "
                        "next_attempt_at - now() AS due_in, leased_until - now() AS lease "
                        "FROM webhook_deliveries "
                        "WHERE client_id = ANY(:c) AND status <> 'delivered' ORDER BY id LIMIT 5"
                    ),
                    {"c": [world.source_id, world.regulator_id]},
                )
            )
        if not left:
            return None
        await asyncio.sleep(0.5)
    return repr(left)


async def _assert_invariants(engine: AsyncEngine, world: World) -> None:
    checks = {
        "a slot with two active bookings": (
            "SELECT slot_id FROM bookings WHERE status IN ('held', 'booked') "
            "GROUP BY slot_id HAVING count(*) > 1"
        ),
        "a booked slot without exactly one booking (booked, fulfilled or no-show)": (
            "SELECT s.id FROM slots s WHERE s.status = 'booked' AND s.site_id = :site "
            "AND (SELECT count(*) FROM bookings b WHERE b.slot_id = s.id "
            "AND b.status IN ('booked', 'fulfilled', 'noshow')) <> 1"
        ),
        "a booking on a slot that is not booked": (
            "SELECT b.id FROM bookings b JOIN slots s ON s.id = b.slot_id "
            "WHERE b.status IN ('booked', 'fulfilled', 'noshow') AND s.status <> 'booked' "
            "AND s.site_id = :site"
        ),
        "a held slot without its live hold": (
            "SELECT s.id FROM slots s WHERE s.status = 'held' AND s.site_id = :site "
            "AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.slot_id = s.id "
            "AND b.status = 'held' AND b.expires_at = s.hold_expires_at)"
        ),
        "two active slots of a professional overlapping": (
            "SELECT a.id FROM slots a JOIN slots b ON a.professional_id = b.professional_id "
            "AND a.id < b.id AND a.status <> 'cancelled' AND b.status <> 'cancelled' "
            "AND tstzrange(a.start_at, a.end_at) && tstzrange(b.start_at, b.end_at) "
            "WHERE a.site_id = :site"
        ),
    }
    async with engine.connect() as conn:
        for what, sql in checks.items():
            rows = (await conn.execute(text(sql), {"site": world.site_id})).all()
            assert rows == [], f"{what}: {rows[:5]}"
