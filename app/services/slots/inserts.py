"""Insert a batch of new slots and their `slot.created` events, as fast as PostgreSQL allows.

The rows go in with one COPY inside a savepoint (ids made here, so nothing needs to come back),
and their events with a second COPY. The exclusion constraint checks each row once. Only if the
database refuses the COPY (an overlap with a stored slot, a concurrent push of the same external
id, or a deadlock with such a push) is the batch redone with INSERT … ON CONFLICT DO NOTHING,
which skips the refused rows (no conflict target: unique and exclusion constraints alike), and
one more query says why each of those did not land.
"""

import os
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg.pgproto.pgproto import UUID as DriverUUID
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.outbox import events as outbox
from app.services.slots.overlap import overlap
from app.services.slots.results import landed, rejected
from app.services.slots.rows import COLUMNS, LABELS, ROWS, ResolvedItem, arrays, record

# What a concurrent push of the same source can make the COPY run into.
_REFUSALS = (
    asyncpg.ExclusionViolationError,
    asyncpg.UniqueViolationError,
    asyncpg.DeadlockDetectedError,
)

_INSERT_SKIPPING = text(
    f"""
    INSERT INTO slots ({", ".join(COLUMNS)})
    SELECT i.slot_id, CAST(:source AS uuid), i.external_id, i.professional_id, i.site_id,
           i.start_at, i.end_at, i.modality, {LABELS}, i.booking_url, i.digest
    FROM {ROWS}
    ORDER BY i.external_id
    ON CONFLICT DO NOTHING
    RETURNING id
    """  # noqa: S608
)

_WHY_NOT_INSERTED = text(
    f"""
    SELECT i.idx,
           EXISTS (SELECT 1 FROM slots k WHERE k.source_client_id = :source
                   AND k.external_id = i.external_id) AS key_taken,
           (SELECT CASE WHEN o.source_client_id = :source THEN o.external_id END
            FROM slots o
            WHERE o.professional_id = i.professional_id AND o.status <> 'cancelled'
              AND tstzrange(o.start_at, o.end_at) && tstzrange(i.start_at, i.end_at)
            LIMIT 1) AS overlapping
    FROM {ROWS}
    """  # noqa: S608
)


async def insert_new(
    session: AsyncSession, source: uuid.UUID, rows: Sequence[ResolvedItem]
) -> dict[int, dict[str, Any]]:
    """Insert new slots and their events; each row's result by index (created or rejected).

    Rule: no two active slots of a professional overlap; the exclusion constraint decides.
    Rows go in by external id, so two pushes of one source that share new ids wait for each
    other instead of deadlocking.
    """
    ids = dict(zip((r.index for r in rows), new_ids(len(rows)), strict=True))
    for row in rows:
        row.slot_id = ids[row.index]
    ordered = sorted(rows, key=lambda r: r.item.external_id)
    try:
        async with session.begin_nested():
            driver = await outbox.driver_connection(session)
            await driver.copy_records_to_table(
                "slots", records=[record(source, r) for r in ordered], columns=COLUMNS
            )
        done = ids
    except _REFUSALS:
        done = await _insert_skipping(session, source, rows, ids)
    await outbox.emit_many(session, [_created_event(source, r) for r in rows if r.index in done])
    results = landed(rows, done, "created")
    missing = [r for r in rows if r.index not in done]
    if missing:
        results.update(await _why_not_inserted(session, source, missing))
    return results


def new_ids(count: int) -> list[uuid.UUID]:
    """`count` random (version 4) UUIDs, made in bulk: 5,000 `uuid.uuid4()` and their `str()`
    cost ~30 ms of pure Python; the driver's UUID type (a `uuid.UUID`, in C) costs ~1 ms."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])  # RFC 4122 variant
    data = bytes(raw)
    return [DriverUUID(data[i : i + 16]) for i in range(0, 16 * count, 16)]


def _created_event(source: uuid.UUID, r: ResolvedItem) -> outbox.Event:
    item = r.item
    data = {
        "id": r.slot_id,
        "external_id": item.external_id,
        "professional_id": r.professional_id,
        "professional_rpps": item.professional_rpps,
        "site_id": item.site_id,
        "start": item.start,
        "end": item.end,
        "modality": item.modality,
        "labels": item.labels,
        "booking_url": item.booking_url,
        "status": "free",
        "version": 1,
    }
    return outbox.Event("slot.created", data, source, r.territory_id)


async def _insert_skipping(
    session: AsyncSession,
    source: uuid.UUID,
    rows: Sequence[ResolvedItem],
    ids: dict[int, uuid.UUID],
) -> dict[int, uuid.UUID]:
    landed_ids = set(await session.scalars(_INSERT_SKIPPING, arrays(source, rows)))
    return {index: slot_id for index, slot_id in ids.items() if slot_id in landed_ids}


async def _why_not_inserted(
    session: AsyncSession, source: uuid.UUID, rows: Sequence[ResolvedItem]
) -> dict[int, dict[str, Any]]:
    by_index = {r.index: r for r in rows}
    found = await session.execute(_WHY_NOT_INSERTED, arrays(source, rows))
    out: dict[int, dict[str, Any]] = {}
    for idx, key_taken, overlapping in found:
        row = by_index[idx]
        if key_taken:
            out[idx] = rejected(
                idx,
                row.item.external_id,
                "concurrent-push",
                "another push created this external_id at the same time; push it again",
            )
        else:
            out[idx] = overlap(row, overlapping, in_batch=False)
    return out
