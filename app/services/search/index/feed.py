"""What the search index reads from PostgreSQL: the directory, the slots of its window, and the
slots changed since its cursor (raw asyncpg, in one REPEATABLE READ snapshot per pass).

The change feed is the outbox (`ix_outbox_events_slot_changes`, migration 0016), in the event
feed's order (`outbox.feed`): (txid, id). A pass reads every slot-change event after the cursor
that its snapshot sees, committed below the horizon or not, and the current row of each slot
named: so once a pass ends, everything committed before its snapshot is in the index. The
cursor then moves to the horizon only (no transaction below it can still commit): events of
transactions above it are read again by the next pass, which changes nothing (a slot's row is
put as it is).
"""

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.models.outbox_event import SLOT_CHANGES_WHERE
from app.services.outbox.feed import HORIZON
from app.services.search.index.store import Directory, SlotRow

Cursor = tuple[int, int]

CHANGES_CHANNEL = "slot_changes"
DIRECTORY_CHANNEL = "search_directory"

_VERSION = "SELECT version FROM search_directory_version"
_HORIZON = f"SELECT ({HORIZON}) AS txid"  # noqa: S608 (constants only)
_TERRITORIES = (
    "SELECT id, active, departement, timezone, CAST(radius_km AS float8) AS radius_km, "
    "CAST(enlargement_km AS float8) AS enlargement_km FROM territories"
)
_SITES = (
    "SELECT id, territory_id, lat, lon, timezone, active, accessible, name, address, postcode "
    "FROM sites ORDER BY id"
)
_PROFESSIONALS = (
    "SELECT id, rpps, family_name, given_name, specialty, languages, sas_participant, active "
    "FROM professionals ORDER BY id"
)
_CLIENTS = "SELECT id, active FROM api_clients ORDER BY id"
_COMMUNES = "SELECT insee_code, lat, lon FROM communes"
_SLOT_COLUMNS = (
    "id, site_id, professional_id, source_client_id, start_at, end_at, modality, status, "
    "hold_expires_at"
)
# The slots of the window [from, until): the open ones only (free, or held: a hold may lapse).
_WINDOW = f"""
    SELECT {_SLOT_COLUMNS} FROM slots
    WHERE status IN ('free', 'held') AND start_at > $1 AND start_at < $2
"""  # noqa: S608 (constants only)
_CHANGED = f"""
    SELECT e.txid, e.id,
           CAST(CASE WHEN e.type LIKE 'slot.%' THEN e.data->>'id'
                     ELSE e.data->>'slot_id' END AS uuid) AS slot_id
    FROM outbox_events e
    WHERE {SLOT_CHANGES_WHERE} AND (e.txid, e.id) > ($1, $2)
    ORDER BY e.txid, e.id
"""  # noqa: S608 (constants only)
_SLOTS = f"SELECT {_SLOT_COLUMNS} FROM slots WHERE id = ANY($1::uuid[])"  # noqa: S608


def _slot(record: Any) -> SlotRow:
    return SlotRow(*record.values())


def _snapshot(connection: Any) -> Any:
    """One REPEATABLE READ snapshot; inside a caller's transaction (tests), that one."""
    if connection.is_in_transaction():
        return contextlib.nullcontext()
    return connection.transaction(isolation="repeatable_read", readonly=True)


@dataclass
class Snapshot:
    """What a start-up (or a reload) read, all in one snapshot."""

    version: int
    cursor: Cursor
    directory: Directory
    slots: list[SlotRow]


@dataclass
class Changes:
    version: int
    cursor: Cursor
    events: int
    changed: list[uuid.UUID]  # the slots named by an event
    rows: list[SlotRow]  # their rows now (a slot deleted has none)
    window: list[SlotRow]  # the slots of the window's new part, if it moved


async def read_snapshot(connection: Any, start: datetime, until: datetime) -> Snapshot:
    """Directory, open slots of [start, until) and the feed's horizon, in one snapshot, whole."""
    kept: list[Directory] = []
    slots: list[SlotRow] = []

    def into(directory: Directory) -> Callable[[list[SlotRow]], Awaitable[None]]:
        kept.append(directory)

        async def take(rows: list[SlotRow]) -> None:
            slots.extend(rows)

        return take

    version, cursor = await load_snapshot(connection, start, until, into, 10_000)
    return Snapshot(version, cursor, kept[0], slots)


async def _directory(connection: Any) -> tuple[int, Cursor, Directory]:
    version = await connection.fetchval(_VERSION)
    horizon = int(await connection.fetchval(_HORIZON))
    directory = Directory.build(
        await connection.fetch(_TERRITORIES),
        await connection.fetch(_SITES),
        await connection.fetch(_PROFESSIONALS),
        await connection.fetch(_CLIENTS),
        await connection.fetch(_COMMUNES),
    )
    return int(version), (horizon, 0), directory


async def load_snapshot(
    connection: Any,
    start: datetime,
    until: datetime,
    into: Callable[[Directory], Callable[[list[SlotRow]], Awaitable[None]]],
    slice_rows: int,
) -> tuple[int, Cursor]:
    """Like `read_snapshot`, but the slots come through a cursor, `slice_rows` at a time, each
    slice handed to `into(directory)` as it arrives: the memory of a load is the index and one
    slice, not the whole window's rows."""
    async with _snapshot(connection):
        version, cursor, directory = await _directory(connection)
        take = into(directory)
        rows: list[SlotRow] = []
        async for record in connection.cursor(_WINDOW, start, until, prefetch=slice_rows):
            rows.append(_slot(record))
            if len(rows) >= slice_rows:
                await take(rows)
                rows = []
        if rows:
            await take(rows)
    return version, cursor


async def read_changes(
    connection: Any, cursor: Cursor, extend: tuple[datetime, datetime] | None
) -> Changes:
    """The slots changed after `cursor`, and the open slots of `extend` (a window's new part)."""
    async with _snapshot(connection):
        version = await connection.fetchval(_VERSION)
        horizon = int(await connection.fetchval(_HORIZON))
        events = await connection.fetch(_CHANGED, cursor[0], cursor[1])
        changed = list(dict.fromkeys(e["slot_id"] for e in events if e["slot_id"] is not None))
        rows = [_slot(r) for r in await connection.fetch(_SLOTS, changed)] if changed else []
        window = [_slot(r) for r in await connection.fetch(_WINDOW, *extend)] if extend else []
    # Below the horizon every transaction is over: the next pass starts there, or after the
    # last event read below it (rows above it are read again, harmlessly).
    reached = max(cursor, (horizon, 0))
    return Changes(int(version), reached, len(events), changed, rows, window)
