"""API clients as the admin pages show them: counts rather than the id lists the API returns.

A practice software may write for thousands of professionals (50,000 in the national bench);
the API's `describe` lists every id, the pages only need how many. Slot counts use the shared
rules (`services/slots/rules.py`) over the territory's sites and the next 48 h (the API's
`show_client` counts every slot to come of the source: seconds for a national-scale one).
"""

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.core.pagination import decode_cursor, encode_cursor
from app.services.slots.rules import free, lapsed_hold

_SUMMARY = """
    SELECT c.id, c.name, c.role, c.key_prefix, c.webhook_url, c.active, c.created_at,
           ARRAY(SELECT te.name FROM api_client_territories t
                 JOIN territories te ON te.id = t.territory_id
                 WHERE t.client_id = c.id ORDER BY te.name) AS territory_names
    FROM api_clients c
"""
# One pass over the page's clients (a per-client subquery is planned as a scan per client when
# one client holds most rows, as a national practice software does).
_PROFESSIONALS = text(
    """
    SELECT client_id, count(*) AS professionals FROM api_client_professionals
    WHERE client_id = ANY(CAST(:ids AS uuid[])) GROUP BY client_id
    """
)
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
# The source's slots at the territory's sites in the next 48 h: each site's open and booked
# index ranges (as the dashboard), bounded by the territory's size, not the source's.
_SLOTS_48H = text(
    f"""
    SELECT count(*) FILTER (WHERE {free("s")}) AS free,
           count(*) FILTER (WHERE s.status = 'held' AND NOT {lapsed_hold("s")}) AS held,
           count(*) FILTER (WHERE s.status = 'booked') AS booked
    FROM sites si CROSS JOIN LATERAL (
        SELECT o.start_at, o.status, o.hold_expires_at, o.source_client_id FROM slots o
        WHERE o.site_id = si.id AND o.status IN ('free', 'held')
          AND o.start_at >= now() AND o.start_at < now() + interval '48 hours'
        UNION ALL
        SELECT b.start_at, b.status, b.hold_expires_at, b.source_client_id FROM slots b
        WHERE b.site_id = si.id AND b.status = 'booked'
          AND b.start_at >= now() AND b.start_at < now() + interval '48 hours'
    ) AS s
    WHERE si.territory_id = :territory_id AND s.source_client_id = :client_id
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
    territory_names: list[str]
    professionals: int = 0


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
    items = await _with_professionals(session, [ClientSummary(*row) for row in rows[:limit]])
    more = len(rows) > limit
    return items, (encode_cursor(items[-1].created_at, items[-1].id) if more else None)


async def _with_professionals(
    session: AsyncSession, clients: list[ClientSummary]
) -> list[ClientSummary]:
    counts = dict(
        (row.client_id, row.professionals)
        for row in await session.execute(_PROFESSIONALS, {"ids": [c.id for c in clients]})
    )
    return [replace(c, professionals=counts.get(c.id, 0)) for c in clients]


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> ClientSummary:
    row = (await session.execute(_ONE, {"client_id": client_id})).one_or_none()
    if row is None:
        raise NotFound(f"no API client {client_id}")
    return (await _with_professionals(session, [ClientSummary(*row)]))[0]


async def slots_next_48h(
    session: AsyncSession, client_id: uuid.UUID, territory_id: uuid.UUID | None
) -> SlotCounts:
    """The client's slots in the next 48 h at the territory's sites."""
    if territory_id is None:
        return SlotCounts(0, 0, 0)
    params = {"client_id": client_id, "territory_id": territory_id}
    row = (await session.execute(_SLOTS_48H, params)).one()
    return SlotCounts(row.free, row.held, row.booked)
