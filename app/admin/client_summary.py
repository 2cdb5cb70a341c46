"""API clients as the admin pages show them: counts rather than the id lists the API returns.

A practice software may write for thousands of professionals (50,000 in the national bench);
the API's `describe` lists every id, the pages only need how many. Slot counts use the shared
rules (`services/slots/rules.py`) over the next 48 h, the range `ix_slots_source_start` serves
(the API's `show_client` counts every slot to come: seconds for a national-scale source).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.core.pagination import decode_cursor, encode_cursor
from app.services.slots.rules import free, lapsed_hold

_SUMMARY = """
    SELECT c.id, c.name, c.role, c.key_prefix, c.webhook_url, c.active, c.created_at,
           ARRAY(SELECT territory_id FROM api_client_territories t
                 WHERE t.client_id = c.id) AS territory_ids,
           (SELECT count(*) FROM api_client_professionals p
            WHERE p.client_id = c.id) AS professionals
    FROM api_clients c
"""
_LIST = text(
    _SUMMARY
    + """
    WHERE CAST(:after_at AS timestamptz) IS NULL
       OR (c.created_at, c.id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))
    ORDER BY c.created_at, c.id
    LIMIT :limit
    """
)
_ONE = text(_SUMMARY + " WHERE c.id = :client_id")
_SLOTS_48H = text(
    f"""
    SELECT count(*) FILTER (WHERE {free("s")}) AS free,
           count(*) FILTER (WHERE s.status = 'held' AND NOT {lapsed_hold("s")}) AS held,
           count(*) FILTER (WHERE s.status = 'booked') AS booked
    FROM slots s
    WHERE s.source_client_id = :client_id AND s.status <> 'cancelled'
      AND s.start_at >= now() AND s.start_at < now() + interval '48 hours'
    """  # noqa: S608 (built from the shared rules' constants)
)


@dataclass(frozen=True)
class ClientSummary:
    id: uuid.UUID
    name: str
    role: str
    key_prefix: str
    webhook_url: str | None
    active: bool
    created_at: datetime
    territory_ids: list[uuid.UUID]
    professionals: int


@dataclass(frozen=True)
class SlotCounts:
    free: int
    held: int
    booked: int


async def list_clients(
    session: AsyncSession, cursor: str | None, limit: int
) -> tuple[list[ClientSummary], str | None]:
    """Clients in creation order, paged like the API's list (its cursor format)."""
    after_at, after_id = decode_cursor(cursor) if cursor else (None, None)
    rows = (
        await session.execute(
            _LIST, {"after_at": after_at, "after_id": after_id, "limit": limit + 1}
        )
    ).all()
    items = [ClientSummary(*row) for row in rows[:limit]]
    more = len(rows) > limit
    return items, (encode_cursor(items[-1].created_at, items[-1].id) if more else None)


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> ClientSummary:
    row = (await session.execute(_ONE, {"client_id": client_id})).one_or_none()
    if row is None:
        raise NotFound(f"no API client {client_id}")
    return ClientSummary(*row)


async def slots_next_48h(session: AsyncSession, client_id: uuid.UUID) -> SlotCounts:
    row = (await session.execute(_SLOTS_48H, {"client_id": client_id})).one()
    return SlotCounts(row.free, row.held, row.booked)
