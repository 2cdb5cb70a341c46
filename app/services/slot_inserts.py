"""Insert a batch of new slots and their `slot.created` events, as fast as PostgreSQL allows.

The rows go in with one COPY inside a savepoint (ids made here, so nothing needs to come back),
and their events with a second COPY. The exclusion constraint checks each row once. Only if the
database refuses the COPY (an overlap with a stored slot, or a concurrent push of the same
external id) is the batch redone with INSERT … ON CONFLICT DO NOTHING, which skips the refused
rows (no conflict target: unique and exclusion constraints alike), and one more query says why
each of those did not land.
"""

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services import outbox
from app.services.slot_intake import Row, landed, overlap, rejected

_COLUMNS = (
    "id",
    "source_client_id",
    "external_id",
    "professional_id",
    "site_id",
    "start_at",
    "end_at",
    "modality",
    "labels",
    "booking_url",
    "lat",
    "lon",
)

_INSERT_SKIPPING = text(
    """
    INSERT INTO slots (id, source_client_id, external_id, professional_id, site_id, start_at,
                       end_at, modality, labels, booking_url, lat, lon)
    SELECT id, CAST(:source AS uuid), external_id, professional_id, site_id, start_at, end_at,
           modality, string_to_array(labels, ','), booking_url, lat, lon
    FROM unnest(CAST(:id AS uuid[]), CAST(:external_id AS text[]),
                CAST(:professional_id AS uuid[]), CAST(:site_id AS uuid[]),
                CAST(:start_at AS timestamptz[]), CAST(:end_at AS timestamptz[]),
                CAST(:modality AS text[]), CAST(:labels AS text[]), CAST(:booking_url AS text[]),
                CAST(:lat AS float8[]), CAST(:lon AS float8[]))
         WITH ORDINALITY
         AS i(id, external_id, professional_id, site_id, start_at, end_at, modality, labels,
              booking_url, lat, lon, position)
    ORDER BY position
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)

_WHY_NOT_INSERTED = text(
    """
    SELECT i.idx,
           EXISTS (SELECT 1 FROM slots k WHERE k.source_client_id = :source
                   AND k.external_id = i.external_id) AS key_taken,
           (SELECT CASE WHEN o.source_client_id = :source THEN o.external_id END
            FROM slots o
            WHERE o.professional_id = i.professional_id AND o.status <> 'cancelled'
              AND tstzrange(o.start_at, o.end_at) && tstzrange(i.start_at, i.end_at)
            LIMIT 1) AS overlapping
    FROM unnest(CAST(:idx AS int[]), CAST(:external_id AS text[]),
                CAST(:professional_id AS uuid[]), CAST(:start_at AS timestamptz[]),
                CAST(:end_at AS timestamptz[]))
         AS i(idx, external_id, professional_id, start_at, end_at)
    """
)


async def insert_new(
    session: AsyncSession, source: uuid.UUID, rows: Sequence[Row]
) -> dict[int, dict[str, Any]]:
    """Insert new slots and their events; each row's result by index (created or rejected).

    Rule: no two active slots of a professional overlap; the exclusion constraint decides.
    """
    ids = {r.item.index: uuid.uuid4() for r in rows}
    try:
        async with session.begin_nested():
            driver = await outbox.driver_connection(session)
            await driver.copy_records_to_table(
                "slots",
                records=[_record(source, ids[r.item.index], r) for r in rows],
                columns=_COLUMNS,
            )
        done = ids
    except (asyncpg.ExclusionViolationError, asyncpg.UniqueViolationError):
        done = await _insert_skipping(session, source, rows, ids)
    events = [_created_event(source, done[r.item.index], r) for r in rows if r.item.index in done]
    await outbox.emit_many(session, events)
    results = landed(rows, done, "created")
    missing = [r for r in rows if r.item.index not in done]
    if missing:
        results.update(await _why_not_inserted(session, source, missing))
    return results


def _record(source: uuid.UUID, slot_id: uuid.UUID, r: Row) -> tuple[Any, ...]:
    item = r.item
    return (
        slot_id,
        source,
        item.external_id,
        r.professional_id,
        item.site_id,
        item.start,
        item.end,
        item.modality,
        item.labels,
        item.booking_url,
        r.lat,
        r.lon,
    )


def _created_event(source: uuid.UUID, slot_id: uuid.UUID, r: Row) -> outbox.Event:
    item = r.item
    data = {
        "id": slot_id,
        "external_id": item.external_id,
        "professional_id": r.professional_id,
        "professional_rpps": item.rpps,
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
    session: AsyncSession, source: uuid.UUID, rows: Sequence[Row], ids: dict[int, uuid.UUID]
) -> dict[int, uuid.UUID]:
    inserted = await session.scalars(
        _INSERT_SKIPPING,
        {
            "source": source,
            "id": [ids[r.item.index] for r in rows],
            "external_id": [r.item.external_id for r in rows],
            "professional_id": [r.professional_id for r in rows],
            "site_id": [r.item.site_id for r in rows],
            "start_at": [r.item.start for r in rows],
            "end_at": [r.item.end for r in rows],
            "modality": [r.item.modality for r in rows],
            "labels": [",".join(r.item.labels) for r in rows],
            "booking_url": [r.item.booking_url for r in rows],
            "lat": [r.lat for r in rows],
            "lon": [r.lon for r in rows],
        },
    )
    landed_ids = set(inserted)
    return {index: slot_id for index, slot_id in ids.items() if slot_id in landed_ids}


async def _why_not_inserted(
    session: AsyncSession, source: uuid.UUID, rows: Sequence[Row]
) -> dict[int, dict[str, Any]]:
    by_index = {r.item.index: r.item for r in rows}
    found = await session.execute(
        _WHY_NOT_INSERTED,
        {
            "source": source,
            "idx": [r.item.index for r in rows],
            "external_id": [r.item.external_id for r in rows],
            "professional_id": [r.professional_id for r in rows],
            "start_at": [r.item.start for r in rows],
            "end_at": [r.item.end for r in rows],
        },
    )
    out: dict[int, dict[str, Any]] = {}
    for idx, key_taken, overlapping in found:
        item = by_index[idx]
        if key_taken:
            out[idx] = rejected(
                idx,
                item.external_id,
                "concurrent-push",
                "another push created this external_id at the same time; push it again",
            )
        else:
            out[idx] = overlap(item, overlapping, in_batch=False)
    return out
