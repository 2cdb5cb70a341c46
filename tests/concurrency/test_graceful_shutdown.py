"""SIGTERM during a burst of writes: what was accepted finishes, nothing is half done, and the
process stops cleanly (its background loops between two units of work)."""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.concurrency.conftest import PROJECT_ROOT, Build, _free_port, _wait_ready
from tests.conftest import UNLIMITED_ENV
from tests.dispatch_factories import World, headers, make_world

pytestmark = pytest.mark.slow

PUSHES, ITEMS = 30, 100


def _push(world: World, rpps: str, first: datetime, index: int) -> dict[str, object]:
    items = []
    for k in range(ITEMS):
        start = first + timedelta(minutes=10 * (index * ITEMS + k))
        items.append(
            {
                "external_id": f"term-{index}-{k}-{uuid.uuid4().hex[:8]}",
                "professional_rpps": rpps,
                "site_id": str(world.site_id),
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=10)).isoformat(),
                "modality": "AMB",
                "labels": ["SNP"],
            }
        )
    return {"slots": items}


async def test_sigterm_lets_the_writes_in_flight_finish_and_leaves_none_half_done(
    committed: Build, committing_engine: AsyncEngine, database_url: str
) -> None:
    world = await committed(make_world)
    async with committing_engine.connect() as conn:
        rpps = (
            await conn.execute(
                text("SELECT rpps FROM professionals WHERE id = :p"),
                {"p": world.professional_ids[0]},
            )
        ).scalar_one()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp(prefix="snp-sigterm-")) / "server.log"
    env = {
        **os.environ,
        # One process per server (the default is one worker per core).
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
        "SHUTDOWN_GRACE_SECONDS": "30",
        **UNLIMITED_ENV,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603, ASYNC220 (our own module; returns at once)
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(process, base, log)
        first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
        bodies = [_push(world, rpps, first, i) for i in range(PUSHES)]
        limits = httpx.Limits(max_connections=PUSHES, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:

            async def push(body: dict[str, object]) -> tuple[int, float]:
                key = {"Idempotency-Key": str(uuid.uuid4())}
                response = await http.put(
                    f"{base}/v1/slots", json=body, headers=headers(world.source_key, **key)
                )
                return response.status_code, time.monotonic()

            sending = [asyncio.create_task(push(body)) for body in bodies]
            # The first answer: the others were sent with it and are being served.
            await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            answers = await asyncio.gather(*sending)
        code = await asyncio.to_thread(process.wait, 60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text(errors="replace")
    # uvicorn re-raises the signal it handled once it is done: killed by SIGTERM, cleanly.
    assert code in (0, -signal.SIGTERM), output[-3000:]
    assert [status for status, _ in answers] == [200] * PUSHES, output[-3000:]
    assert max(done for _, done in answers) > signalled, "nothing was in flight at SIGTERM"
    assert "Traceback" not in output, output[-3000:]
    assert "Application shutdown complete" in output
    assert "still busy" not in output  # the loops stopped between two units of work

    externals = [item["external_id"] for body in bodies for item in body["slots"]]  # type: ignore[attr-defined]
    async with committing_engine.connect() as conn:
        slots = (
            await conn.execute(
                text("SELECT count(*) FROM slots WHERE external_id = ANY(:e)"), {"e": externals}
            )
        ).scalar_one()
        events = (
            await conn.execute(
                text(
                    "SELECT count(DISTINCT data->>'external_id') FROM outbox_events "
                    "WHERE type = 'slot.created' AND data->>'external_id' = ANY(:e)"
                ),
                {"e": externals},
            )
        ).scalar_one()
    assert slots == PUSHES * ITEMS
    assert events == PUSHES * ITEMS
