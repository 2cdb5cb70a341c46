"""The dashboard's figures for one territory: the next 48 h hour by hour, and today's counts.

Rules: "free" and "held" are the shared rules' (`services/slots/rules.py`: a lapsed hold is
free); a slot counts in its territory through its site. "Today" is the territory's calendar day.
A search "found nothing" when its audit event counted no candidate (`services/search/sql.py`).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.slots.rules import free, lapsed_hold

HOURS = 48

# Each site of the territory, its open slots (`ix_slots_site_open_start`) and its booked ones
# (`ix_slots_site_booked_start`) in the window: two index ranges per site, never a slots scan.
_HOURLY = text(
    f"""
    SELECT date_trunc('hour', s.start_at) AS hour,
           count(*) FILTER (WHERE {free("s")}) AS free,
           count(*) FILTER (WHERE s.status = 'held' AND NOT {lapsed_hold("s")}) AS held,
           count(*) FILTER (WHERE s.status = 'booked') AS booked
    FROM sites si CROSS JOIN LATERAL (
        SELECT o.start_at, o.status, o.hold_expires_at FROM slots o
        WHERE o.site_id = si.id AND o.status IN ('free', 'held')
          AND o.start_at >= :start AND o.start_at < :end
        UNION ALL
        SELECT b.start_at, b.status, b.hold_expires_at FROM slots b
        WHERE b.site_id = si.id AND b.status = 'booked'
          AND b.start_at >= :start AND b.start_at < :end
    ) AS s
    WHERE si.territory_id = :territory_id
    GROUP BY 1
    """  # noqa: S608 (built from the shared rules' constants)
)

_TODAY = text(
    """
    SELECT
      (SELECT count(*) FROM sites si
         JOIN slots s ON s.site_id = si.id AND s.status = 'booked' AND s.start_at >= :day_start
         JOIN bookings b ON b.slot_id = s.id
              AND b.status IN ('booked', 'fulfilled', 'noshow') AND b.booked_at >= :day_start
       WHERE si.territory_id = :territory_id) AS bookings_today,
      (SELECT count(*) FROM audit_events a
       WHERE a.action = 'search.run' AND a.detail ->> 'candidates' = '0'
         AND a.territory_id = :territory_id AND a.occurred_at >= :day_start) AS empty_searches,
      (SELECT count(*) FROM en_sus_requests r
       WHERE r.territory_id = :territory_id AND r.status = 'open'
         AND r.expires_at > now()) AS en_sus_open,
      (SELECT count(*) FROM webhook_deliveries d WHERE d.status = 'failed') AS deliveries_failed
    """
)


@dataclass(frozen=True)
class Hour:
    start: datetime
    free: int
    held: int
    booked: int


@dataclass(frozen=True)
class Today:
    bookings_today: int
    empty_searches: int
    en_sus_open: int
    deliveries_failed: int


async def next_hours(
    session: AsyncSession, territory_id: uuid.UUID, now: datetime | None = None
) -> list[Hour]:
    """The next `HOURS` hours from the current one, each with its free, held and booked slots."""
    start = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=HOURS)
    rows = await session.execute(
        _HOURLY, {"territory_id": territory_id, "start": start, "end": end}
    )
    by_hour = {r.hour: r for r in rows}
    hours = []
    for i in range(HOURS):
        at = start + timedelta(hours=i)
        row = by_hour.get(at)
        hours.append(Hour(at, row.free, row.held, row.booked) if row else Hour(at, 0, 0, 0))
    return hours


async def today(session: AsyncSession, territory_id: uuid.UUID, day_start: datetime) -> Today:
    row = (
        await session.execute(_TODAY, {"territory_id": territory_id, "day_start": day_start})
    ).one()
    return Today(row.bookings_today, row.empty_searches, row.en_sus_open, row.deliveries_failed)
