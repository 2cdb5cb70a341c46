"""The manifest and the NDJSON files, streamed from server-side cursors (memory stays flat).

A file is read in batches of `BATCH` rows through a server-side cursor of its own connection
(not the request's session: the response body is written after the endpoint returned), each
batch turned into one chunk of NDJSON lines. What can be refused (an unknown département, a
bad `_since`) is checked before the first byte, so a refusal is a whole problem+json answer.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import TextClause
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.errors import InvalidInput, NotFound
from app.services.fhir.dates import InvalidDate, date_range, has_offset
from app.services.smart import resources, sql

BATCH = 1_000
# How long clients may wait before polling again (the spec's `Cache-Control: max-age` hint).
MAX_AGE_SECONDS = 60
# `_since` is read this much earlier: a write committed late (its `updated_at` is its
# statement's start) is still seen by the next incremental fetch. Repeats are harmless.
SINCE_OVERLAP = timedelta(minutes=2)
FILE_TYPES = ("Location", "Schedule", "Slot")

# Opens a connection of its own for one read (the engine's `connect` in the app).
Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


def read_since(value: str | None) -> datetime | None:
    """`_since`: a timestamp with its offset (`2026-12-02T08:00:00Z`), as the spec wants."""
    if value is None:
        return None
    if not has_offset(value):
        raise InvalidInput(
            "`_since` is a timestamp with an offset (YYYY-MM-DDThh:mm:ss[.sss]Z or ±hh:mm)",
            location="query._since",
        )
    try:
        start, _ = date_range(value, ZoneInfo("UTC"))
    except InvalidDate as exc:
        raise InvalidInput(f"`_since`: {exc}", location="query._since") from exc
    return start


def since_text(since: datetime) -> str:
    return since.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def manifest(
    connect: Connect, request_url: str, base: str, since: datetime | None
) -> dict[str, Any]:
    """The `$bulk-publish` manifest: three files per publishing département."""
    async with connect() as conn:
        now = (await conn.exec_driver_sql("SELECT statement_timestamp()")).scalar_one()
        departements = (await conn.execute(sql.DEPARTEMENTS)).scalars().all()
    query = f"?_since={quote(since_text(since))}" if since is not None else ""
    output = [
        {
            "type": kind,
            "url": f"{base}/{departement}/{kind}.ndjson{query if kind == 'Slot' else ''}",
            "extension": {"state": [departement]},
        }
        for departement in departements
        for kind in FILE_TYPES
    ]
    return {
        "transactionTime": since_text(now),
        "request": request_url,
        "output": output,
        "error": [],
    }


async def publishing_territories(connect: Connect, departement: str) -> list[uuid.UUID]:
    """The département's publishing territories; none is a 404 (it is in no manifest)."""
    async with connect() as conn:
        ids = list((await conn.execute(sql.TERRITORIES, {"departement": departement})).scalars())
    if not ids:
        raise NotFound(f"no territory of département {departement} publishes slots")
    return ids


@dataclass(frozen=True)
class FileQuery:
    statement: TextClause
    params: dict[str, Any]
    line: Callable[..., bytes]


def file_query(kind: str, territories: list[uuid.UUID], since: datetime | None) -> FileQuery:
    params: dict[str, Any] = {"territories": territories}
    if kind == "Location":
        return FileQuery(sql.LOCATIONS, params, resources.location_line)
    if kind == "Schedule":
        return FileQuery(sql.SCHEDULES, params, resources.schedule_line)
    if since is None:
        return FileQuery(sql.SLOTS, params, resources.slot_line)
    return FileQuery(
        sql.SLOTS_SINCE, {**params, "since": since - SINCE_OVERLAP}, resources.slot_line
    )


async def _rows(conn: AsyncConnection, query: FileQuery) -> AsyncIterator[bytes]:
    # asyncpg's own cursor under the connection (SQLAlchemy's rows cost a third of the time of
    # a national Slot file); the statement is compiled by the dialect, its parameters in order.
    compiled = query.statement.compile(dialect=conn.dialect)
    args = [query.params[name] for name in compiled.positiontup or ()]
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    cursor = await driver.cursor(str(compiled), *args)
    line = query.line
    # The next batch is asked for before this one is turned into lines: PostgreSQL computes it
    # on another core meanwhile (the event loop sends the FETCH at the `sleep(0)`).
    pending = asyncio.ensure_future(cursor.fetch(BATCH))
    try:
        while batch := await pending:
            pending = asyncio.ensure_future(cursor.fetch(BATCH))
            await asyncio.sleep(0)
            yield b"".join([line(*row) for row in batch])
    finally:  # the client went away mid-file: the fetch in flight ends with the connection
        pending.cancel()


async def ndjson(connect: Connect, query: FileQuery) -> AsyncIterator[bytes]:
    """The file's lines, batch after batch, from a server-side cursor."""
    async with connect() as conn:
        # A national file's plan costs more than the JIT threshold, yet its rows are cheap:
        # compiling took longer (~40 ms a file) than it saved.
        await conn.exec_driver_sql("SET LOCAL jit = off")
        async for chunk in _rows(conn, query):
            yield chunk
