"""The search audit buffer on a real PostgreSQL: rows land within the flush interval with the
time of their search, a burst goes in a few COPYs, the rows survive an outage under the bound,
the bound drops the oldest (counted), and stopping writes what waits (a real uvicorn too)."""

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import orjson
import pytest
import uvicorn
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.background import Stopping
from app.core.config import Settings
from app.core.db import create_engine
from app.main import create_app
from app.services.audit.buffer import AuditBuffer
from tests.conftest import migrated_database, unlimited_settings


@pytest.fixture(scope="module")
async def audit_db(server_url: str) -> AsyncIterator[str]:
    """A database of this module's own: its COPYs commit, and no other test counts them."""
    async with migrated_database(server_url, "snp_audit_buffer") as url:
        yield url


@pytest.fixture(scope="module")
async def reader(audit_db: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(audit_db, Settings(database_url=audit_db))
    yield engine
    await engine.dispose()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def rows_of(reader: AsyncEngine, actor: str) -> list[Any]:
    async with reader.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT actor_client_id, actor, action, resource_type, resource_id, territory_id, "
                "detail, occurred_at FROM audit_events WHERE actor = :actor ORDER BY id"
            ),
            {"actor": actor},
        )
        return list(result.all())


async def count_of(reader: AsyncEngine, actor: str) -> int:
    async with reader.connect() as conn:
        query = text("SELECT count(*) FROM audit_events WHERE actor = :actor")
        return int((await conn.execute(query, {"actor": actor})).scalar_one())


async def eventually(check: Callable[[], Awaitable[bool]], within: float) -> float:
    """Seconds until `check()` holds; fails past `within`."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, f"not within {within} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def add_search(buffer: AuditBuffer, actor: str, n: int = 0, **detail: Any) -> None:
    buffer.add(
        None, actor, "search.run", "search", None, None, {"n": n, **detail}, datetime.now(UTC)
    )


@contextlib.asynccontextmanager
async def running(buffer: AuditBuffer) -> AsyncIterator[Stopping]:
    stopping = Stopping()
    task = asyncio.create_task(buffer.run(stopping))
    try:
        yield stopping
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


class Relay:
    """A TCP relay on loopback to the test's PostgreSQL, which the test takes down (connections
    refused, those open cut) and brings back up on the same port: a database outage for the
    engines that connect through it, without touching the shared server."""

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        self._target: tuple[str | None, int] = (parts.hostname, parts.port or 5432)
        self._socket = f"{socket_dir}/.s.PGSQL.{parts.port or 5432}" if socket_dir else None
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        user = parts.netloc.rpartition("@")[0]
        netloc = f"{user}@127.0.0.1:{self.port}" if user else f"127.0.0.1:{self.port}"
        self.url = urlunsplit(parts._replace(netloc=netloc, query=""))
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            if self._socket:
                server_r, server_w = await asyncio.open_unix_connection(self._socket)
            else:
                server_r, server_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.transport.abort()
            return
        self._open |= {client_w, server_w}
        pipes = [
            asyncio.create_task(self._pipe(client_r, server_w)),
            asyncio.create_task(self._pipe(server_r, client_w)),
        ]
        self._pipes.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)
        self._pipes.difference_update(pipes)
        for writer in (client_w, server_w):
            writer.transport.abort()
            self._open.discard(writer)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.transport.abort()


@pytest.fixture
async def relay(audit_db: str) -> AsyncIterator[Relay]:
    relay = Relay(audit_db)
    await relay.up()
    yield relay
    if relay._server is not None:
        await relay.down()


@pytest.fixture
async def relayed_engine(relay: Relay) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        relay.url, Settings(database_url=relay.url, db_connect_timeout_seconds=1)
    )
    yield engine
    await engine.dispose()


async def test_rows_land_within_the_interval_with_their_columns_and_search_time(
    audit_db: str, reader: AsyncEngine
) -> None:
    engine = create_engine(audit_db, Settings(database_url=audit_db))
    buffer = AuditBuffer(engine, flush_interval_seconds=1.0)
    actor, client, territory = f"regulator {uuid.uuid4()}", uuid.uuid4(), uuid.uuid4()
    searched_at = datetime.now(UTC) - timedelta(minutes=7, microseconds=123)
    detail = {"territory_ids": [str(territory)], "modalities": ["AMB"], "candidates": 3}
    try:
        async with running(buffer):
            await asyncio.sleep(0.3)  # mid-interval: the next flush is due in ~0.7 s
            buffer.add(client, actor, "search.run", "search", None, territory, detail, searched_at)
            buffer.add(None, actor, "search.run", "search", 42, None, {}, searched_at)
            waited = await eventually(lambda: _has(reader, actor, 2), within=3)
    finally:
        await engine.dispose()
    assert waited < 1.2  # at most one flush interval, plus the COPY
    first, second = await rows_of(reader, actor)
    assert tuple(first) == (
        client,
        actor,
        "search.run",
        "search",
        None,
        territory,
        detail,
        searched_at,  # the time of the search, not of the COPY (nor the column's now())
    )
    assert (second.actor_client_id, second.resource_id, second.territory_id) == (None, "42", None)
    assert second.detail == {}


async def _has(reader: AsyncEngine, actor: str, count: int) -> bool:
    return await count_of(reader, actor) == count


async def test_a_burst_of_ten_thousand_goes_in_a_few_copies_without_waiting_the_interval(
    audit_db: str, reader: AsyncEngine
) -> None:
    engine = create_engine(audit_db, Settings(database_url=audit_db))
    # An interval far longer than the test: only the rows waiting can start the flushes.
    buffer = AuditBuffer(engine, flush_interval_seconds=60, flush_rows=2000)
    actor = f"burst {uuid.uuid4()}"
    copies = metric("snp_audit_buffer_copies_total", outcome="written")
    written = metric("snp_audit_buffer_rows_written_total")
    try:
        async with running(buffer):
            await asyncio.sleep(0.2)  # the loop waits, for a minute
            started = time.perf_counter()
            for n in range(10_000):
                add_search(buffer, actor, n)
            added = time.perf_counter() - started
            await eventually(lambda: _has(reader, actor, 10_000), within=10)
            assert buffer.waiting == 0
    finally:
        await engine.dispose()
    assert metric("snp_audit_buffer_copies_total", outcome="written") - copies == 5
    assert metric("snp_audit_buffer_rows_written_total") - written == 10_000
    assert metric("snp_audit_buffer_rows_waiting") == 0
    numbers = [row.detail["n"] for row in await rows_of(reader, actor)]
    assert numbers == list(range(10_000))  # each once, in order
    assert added < 1.0, f"10,000 adds took {added:.3f} s"  # ~10 µs each, measured ~0.1 s


async def test_add_never_raises_and_counts_what_it_refuses(audit_db: str) -> None:
    engine = create_engine(audit_db, Settings(database_url=audit_db))
    buffer = AuditBuffer(engine)
    invalid = metric("snp_audit_buffer_rows_dropped_total", reason="invalid")
    now = datetime.now(UTC)
    buffer.add(None, "a", "search.run", "search", None, None, {}, datetime.now())  # naive  # noqa: DTZ005
    not_json: dict[Any, Any] = {1: "a"}  # a key that is not text
    buffer.add(None, "a", "search.run", "search", None, None, not_json, now)
    buffer.add("not a uuid", "a", "search.run", "search", None, None, {}, now)  # type: ignore[arg-type]
    buffer.add(None, "a", "search.run", "search", None, None, {}, "yesterday")  # type: ignore[arg-type]
    assert buffer.waiting == 0
    assert metric("snp_audit_buffer_rows_dropped_total", reason="invalid") - invalid == 4
    buffer.add(str(uuid.uuid4()), "a", "search.run", "search", None, None, {}, now)  # type: ignore[arg-type]
    assert buffer.waiting == 1  # a uuid as text is taken
    await engine.dispose()


async def test_rows_survive_an_outage_under_the_bound_and_land_once_it_ends(
    relay: Relay, relayed_engine: AsyncEngine, reader: AsyncEngine
) -> None:
    buffer = AuditBuffer(
        relayed_engine, flush_interval_seconds=0.1, flush_rows=10, backoff_cap_seconds=0.4
    )
    actor = f"outage {uuid.uuid4()}"
    failed = metric("snp_audit_buffer_copies_total", outcome="failed")
    dropped = metric("snp_audit_buffer_rows_dropped_total", reason="overflow")
    async with running(buffer):
        add_search(buffer, actor, -1)
        await eventually(lambda: _has(reader, actor, 1), within=3)  # a pooled connection now
        await relay.down()
        for n in range(55):
            add_search(buffer, actor, n)
        await asyncio.sleep(1.5)  # several COPYs tried and failed meanwhile
        assert await count_of(reader, actor) == 1
        assert buffer.waiting == 55
        assert metric("snp_audit_buffer_copies_total", outcome="failed") - failed >= 2
        await relay.up()
        await eventually(lambda: _has(reader, actor, 56), within=5)
        assert buffer.waiting == 0
    assert metric("snp_audit_buffer_rows_dropped_total", reason="overflow") == dropped
    numbers = [row.detail["n"] for row in await rows_of(reader, actor)]
    assert numbers == [-1, *range(55)]  # none lost, none twice, in order


async def test_beyond_the_bound_the_oldest_are_dropped_and_counted(
    relay: Relay, relayed_engine: AsyncEngine, reader: AsyncEngine
) -> None:
    buffer = AuditBuffer(
        relayed_engine,
        flush_interval_seconds=0.1,
        flush_rows=10,
        max_rows=100,
        backoff_cap_seconds=0.2,
    )
    actor = f"bound {uuid.uuid4()}"
    dropped = metric("snp_audit_buffer_rows_dropped_total", reason="overflow")
    for n in range(150):
        add_search(buffer, actor, n)
    assert buffer.waiting == 100
    assert metric("snp_audit_buffer_rows_waiting") == 100
    assert metric("snp_audit_buffer_rows_dropped_total", reason="overflow") - dropped == 50
    await relay.down()
    async with running(buffer):
        await asyncio.sleep(0.5)  # COPYs fail: their rows go back in front, still the oldest
        for n in range(150, 170):
            add_search(buffer, actor, n)
            await asyncio.sleep(0)  # a COPY may be under way meanwhile
        await asyncio.sleep(0.3)
        assert metric("snp_audit_buffer_rows_dropped_total", reason="overflow") - dropped == 70
        await relay.up()
        await eventually(lambda: _has(reader, actor, 100), within=5)
    numbers = [row.detail["n"] for row in await rows_of(reader, actor)]
    assert numbers == list(range(70, 170))  # the newest 100, in order


async def test_the_rows_of_a_failed_copy_are_still_the_oldest(audit_db: str) -> None:
    """Rows added while a COPY is under way: when it fails, the bound drops its rows first."""
    engine = create_engine(audit_db, Settings(database_url=audit_db))
    buffer = AuditBuffer(engine, flush_rows=10, max_rows=20)
    release = asyncio.Event()

    async def failing_copy(batch: list[Any]) -> None:
        await release.wait()
        raise ConnectionRefusedError("the database is away")

    buffer._copy = failing_copy  # type: ignore[method-assign]
    for n in range(20):
        add_search(buffer, "inflight", n)
    copying = asyncio.create_task(buffer._copy_batch())
    await asyncio.sleep(0)  # rows 0-9 are in the COPY
    for n in range(20, 25):
        add_search(buffer, "inflight", n)
    assert buffer.waiting == 25  # the bound waits for the COPY's outcome
    release.set()
    assert await copying is False
    assert [orjson.loads(row[6])["n"] for row in buffer._rows] == list(range(5, 25))
    await engine.dispose()


async def test_stopping_writes_what_waits_and_counts_what_it_cannot(
    relay: Relay, relayed_engine: AsyncEngine, reader: AsyncEngine
) -> None:
    buffer = AuditBuffer(relayed_engine, flush_interval_seconds=60)
    actor = f"stop {uuid.uuid4()}"
    async with running(buffer):
        for n in range(30):
            add_search(buffer, actor, n)
        await asyncio.sleep(0.3)
        assert await count_of(reader, actor) == 0  # not due before 60 s
    assert await count_of(reader, actor) == 30  # written when stopping
    # Stopping while the database is away: the rows are lost, and said so.
    lost = metric("snp_audit_buffer_rows_dropped_total", reason="shutdown")
    await relay.down()
    async with running(buffer):
        for n in range(7):
            add_search(buffer, actor, n)
    assert buffer.waiting == 0
    assert metric("snp_audit_buffer_rows_dropped_total", reason="shutdown") - lost == 7
    assert await count_of(reader, actor) == 30


async def test_a_served_app_writes_its_waiting_audit_rows_when_it_shuts_down(
    audit_db: str, reader: AsyncEngine
) -> None:
    """uvicorn on loopback, its real lifespan: the rows added while serving are written by the
    last flush of the shutdown, before the engine is disposed."""
    settings = unlimited_settings(database_url=audit_db, audit_flush_interval_seconds=60)
    app = create_app(settings)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    actor = f"served {uuid.uuid4()}"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def ready() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get("/healthz")).status_code == 200
                return False

            await eventually(ready, within=20)
        for n in range(25):
            add_search(app.state.audit_buffer, actor, n)
        await asyncio.sleep(0.3)
        assert await count_of(reader, actor) == 0  # the next flush is a minute away
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
    assert await count_of(reader, actor) == 25


async def test_flush_beside_the_loop_writes_each_row_once(
    audit_db: str, reader: AsyncEngine
) -> None:
    engine = create_engine(audit_db, Settings(database_url=audit_db))
    buffer = AuditBuffer(engine, flush_interval_seconds=0.01, flush_rows=50)
    actor = f"flush {uuid.uuid4()}"
    try:
        async with running(buffer):
            for n in range(500):
                add_search(buffer, actor, n)
                if n % 100 == 99:
                    assert await buffer.flush()
            assert await buffer.flush()
            assert buffer.waiting == 0
    finally:
        await engine.dispose()
    numbers = [row.detail["n"] for row in await rows_of(reader, actor)]
    assert numbers == list(range(500))


async def test_two_flushes_at_once_copy_one_batch_at_a_time(audit_db: str) -> None:
    engine = create_engine(audit_db, Settings(database_url=audit_db))
    buffer = AuditBuffer(engine, flush_rows=10)
    release, batches = asyncio.Event(), []

    async def slow_copy(batch: list[Any]) -> None:
        batches.append([orjson.loads(row[6])["n"] for row in batch])
        await release.wait()

    buffer._copy = slow_copy  # type: ignore[method-assign]
    for n in range(25):
        add_search(buffer, "twice", n)
    flushes = [asyncio.create_task(buffer.flush()) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert len(batches) == 1  # the second flush waits for the first
    assert buffer.waiting == 25
    release.set()
    assert await asyncio.gather(*flushes) == [True, True]
    assert batches == [list(range(10)), list(range(10, 20)), list(range(20, 25))]
    assert buffer.waiting == 0
    await engine.dispose()
