"""The watches' change feed: the slot openings after a cursor, and which of those slots are free.

Read by each process serving watch streams, once per wake-up for all its watches (never per
watch). The order and the horizon are the event feed's (`outbox.feed`): (txid, id) below the
oldest transaction still running, so an event committed late is never skipped. An event is one
row per recipient: a slot is kept once, at its first row.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.outbox_event import SLOT_OPENINGS_WHERE
from app.services.outbox.feed import HORIZON
from app.services.slots.rules import free

Cursor = tuple[int, int]  # (txid, id): everything up to it has been judged
PAGE = 5000

# Served by the partial index `ix_outbox_events_slot_openings` (migration 0014).
_OPENINGS = text(
    f"""
    WITH horizon AS ({HORIZON}), page AS (
        SELECT e.txid, e.id,
               CAST(CASE WHEN e.type LIKE 'slot.%' THEN e.data->>'id'
                         ELSE e.data->>'slot_id' END AS uuid) AS slot_id
        FROM outbox_events e
        WHERE {SLOT_OPENINGS_WHERE}
          AND (e.txid, e.id) > (CAST(:txid AS bigint), CAST(:id AS bigint))
          AND e.txid < (SELECT txid FROM horizon)
        ORDER BY e.txid, e.id
        LIMIT :limit
    )
    SELECT h.txid AS horizon, p.txid, p.id, p.slot_id
    FROM horizon h LEFT JOIN page p ON true
    ORDER BY p.txid, p.id
    """  # noqa: S608 (built from constants only)
)

# The slots of the openings that are free now, with what the in-memory filter needs.
_FREE = text(
    f"""
    SELECT s.id, s.start_at, s.modality, si.territory_id, si.lat, si.lon
    FROM slots s JOIN sites si ON si.id = s.site_id
    WHERE s.id = ANY(CAST(:ids AS uuid[])) AND {free("s", "statement_timestamp()")}
    """  # noqa: S608 (built from constants only)
)


@dataclass(frozen=True)
class Opening:
    """A slot that opened at `at` (its first event's position) and is free now."""

    slot_id: uuid.UUID
    at: Cursor
    start_at: datetime
    modality: str
    territory_id: uuid.UUID
    lat: float
    lon: float


@dataclass(frozen=True)
class Page:
    openings: list[Opening]
    reached: Cursor  # the next read starts after it
    full: bool  # more may follow at once


async def openings_after(session: AsyncSession, after: Cursor, limit: int = PAGE) -> Page:
    """The slots opened after `after` (below the horizon) that are free now, first event first."""
    rows = (
        await session.execute(_OPENINGS, {"txid": after[0], "id": after[1], "limit": limit})
    ).all()
    events = [r for r in rows if r.id is not None]
    full = len(events) >= limit
    if full:
        reached: Cursor = (events[-1].txid, events[-1].id)
    else:
        # Every transaction below the horizon is over and was read: the next read starts there.
        reached = max(after, (int(rows[0].horizon), 0))
        if events:
            reached = max(reached, (events[-1].txid, events[-1].id))
    first: dict[uuid.UUID, Cursor] = {}
    for r in events:
        if r.slot_id is not None:
            first.setdefault(r.slot_id, (r.txid, r.id))
    if not first:
        return Page([], reached, full)
    free_rows = (await session.execute(_FREE, {"ids": list(first)})).all()
    openings = sorted(
        (
            Opening(
                r.id,
                first[r.id],
                r.start_at,
                r.modality,
                r.territory_id,
                float(r.lat),
                float(r.lon),
            )
            for r in free_rows
        ),
        key=lambda o: o.at,
    )
    return Page(openings, reached, full)
