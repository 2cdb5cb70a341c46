"""Two real uvicorn processes on the test database, and committed data for them to race on.

The usual fixtures roll every test back; these processes see only committed rows, so the data
here is written by a committing engine and erased after each test.
"""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.db import create_engine
from tests.conftest import UNLIMITED_ENV
from tests.dispatch_factories import World

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited at startup:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"uvicorn did not answer in {STARTUP_SECONDS}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def servers(database_url: str) -> Iterator[list[str]]:
    """Two `python -m app serve` processes on the test database; their base URLs."""
    with running_servers(database_url) as base_urls:
        yield base_urls


@contextlib.contextmanager
def running_servers(
    database_url: str, extra_env: Mapping[str, str] | None = None, log_dir: Path | None = None
) -> Iterator[list[str]]:
    """Two `python -m app serve` processes on the test database (with `extra_env`); their output
    goes to `log_dir` (default: a new temporary folder), `server-0.log` and `server-1.log`."""
    env = {
        **os.environ,
        # One process per server (the default is one worker per core).
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": database_url,
        "APP_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": "20",
        "API_KEY_CACHE_SECONDS": "60",
        # These tests prove that races never hide a free slot, on a machine that CI and other
        # runs share: a dispatch's wait budget (2 s by default, its own test in
        # test_take_locks.py) must not turn a slow commit of a rival into a 503 here.
        "DISPATCH_BUDGET_SECONDS": "15",
        **UNLIMITED_ENV,
        **(extra_env or {}),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    logs = log_dir or Path(tempfile.mkdtemp(prefix="snp-uvicorn-"))
    started: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for index in range(2):
            port = _free_port()
            log = logs / f"server-{index}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                    [sys.executable, "-m", "app", "serve", "--port", str(port)],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append((process, f"http://127.0.0.1:{port}", log))
        for process, base_url, log in started:
            _wait_ready(process, base_url, log)
        yield [base_url for _, base_url, _ in started]
    finally:
        for process, _, _ in started:
            process.terminate()
        for process, _, _ in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
async def committing_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, Settings(database_url=database_url))
    yield engine
    await engine.dispose()


Build = Callable[[Callable[[AsyncSession], Awaitable[World]]], Awaitable[World]]


@pytest.fixture
async def committed(committing_engine: AsyncEngine) -> AsyncIterator[Build]:
    """Run a builder in a committed transaction; everything it made is erased after the test."""
    worlds: list[World] = []

    async def build(builder: Callable[[AsyncSession], Awaitable[World]]) -> World:
        async with AsyncSession(committing_engine, expire_on_commit=False) as session:
            world = await builder(session)
            await session.commit()
        worlds.append(world)
        return world

    yield build
    async with AsyncSession(committing_engine) as session:
        for world in worlds:
            await erase(session, world)
        await session.commit()


async def erase(session: AsyncSession, world: World) -> None:
    """Delete a world's rows (the append-only audit trail stays)."""
    clients = list(
        (
            await session.scalars(
                text(
                    "SELECT client_id FROM api_client_territories WHERE territory_id = :t "
                    "UNION SELECT client_id FROM api_client_professionals "
                    "WHERE professional_id = ANY(CAST(:p AS uuid[]))"
                ),
                {"t": world.territory_id, "p": world.professional_ids},
            )
        ).all()
    )
    clients = list({*clients, world.source_id, world.regulator_id})
    params = {"t": world.territory_id, "c": clients}
    for sql in (
        "DELETE FROM outbox_events WHERE territory_id = :t "
        "OR recipient_client_id = ANY(CAST(:c AS uuid[]))",
        "DELETE FROM bookings WHERE slot_id IN (SELECT id FROM slots WHERE site_id IN "
        "(SELECT id FROM sites WHERE territory_id = :t))",
        "DELETE FROM en_sus_requests WHERE territory_id = :t",
        "DELETE FROM slots WHERE site_id IN (SELECT id FROM sites WHERE territory_id = :t)",
        "DELETE FROM api_clients WHERE id = ANY(CAST(:c AS uuid[]))",
        "DELETE FROM professionals WHERE id IN (SELECT professional_id FROM site_professionals "
        "WHERE site_id IN (SELECT id FROM sites WHERE territory_id = :t))",
        "DELETE FROM sites WHERE territory_id = :t",
        "DELETE FROM territories WHERE id = :t",
    ):
        await session.execute(text(sql), params)


Call = tuple[str, str, Mapping[str, Any] | None, Mapping[str, str]]


async def fire(requests: Sequence[Call]) -> list[httpx.Response]:
    """Send all requests at once (method, absolute URL, JSON body, headers)."""
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.request(method, url, json=body, headers=headers)
                for method, url, body, headers in requests
            )
        )


def new_key() -> str:
    return str(uuid.uuid4())
