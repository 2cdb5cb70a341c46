"""The indicators of one territory for a period (rules: the package docstring).

The answer is built as plain JSON values (the shape of `schemas.indicators.Indicators`, which
documents it): a large CPTS's year is tens of thousands of rows, and a model object per row
cost more than every statement together.
"""

import uuid
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import InvalidInput, NotFound
from app.models import Territory
from app.services.audit import record as audit
from app.services.indicators import sql

# A generic plan cannot see the territory or the period: it took the searches of every
# territory in the period (the NULL-territory btree range) over the territory's GIN entries.
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
FORFAIT_SECONDS = 2 * 3600
MAX_PERIOD_DAYS = 366
# The days the service counts in (and whose bounds are instants every library can hold).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)

Indicators = dict[str, Any]


def iso_weeks(first: date, last: date, zone: str) -> list[tuple[str, datetime]]:
    """The ISO weeks the days `first` to `last` fall in, as (`2026-W43`, the instant the week
    starts at in `zone`, but not before `first`)."""
    tz = ZoneInfo(zone)
    weeks = []
    monday = first - timedelta(days=first.isoweekday() - 1)
    while monday <= last:
        year, week, _ = monday.isocalendar()
        weeks.append((f"{year}-W{week:02d}", datetime.combine(max(monday, first), time(), tz)))
        monday += timedelta(days=7)
    return weeks


def period_bounds(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """The instants the period starts and ends at (the day after `last`, at midnight) in `zone`."""
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    return start, end


def check_period(first: date, last: date) -> None:
    """A period is whole days, `from` up to `to`, at most MAX_PERIOD_DAYS of them."""
    for day, where in ((first, "query.from"), (last, "query.to")):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise InvalidInput(f"a day from {FIRST_DAY} to {LAST_DAY}", location=where)
    if last < first:
        raise InvalidInput("`to` is before `from`", location="query.to")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput(
            f"a period is at most {MAX_PERIOD_DAYS} days; ask for several periods",
            location="query.to",
        )


def _hours(seconds: float | None) -> float:
    return round((seconds or 0.0) / 3600, 4)


def _totals(slots: list[Any], searches: Any, holds: int, bookings: Any, en_sus: Any) -> Indicators:
    b = bookings
    return {
        "slots_offered": slots[0].all_slots if slots else 0,
        "slot_hours": _hours(slots[0].all_seconds) if slots else 0.0,
        "searches": searches.searches,
        "searches_without_candidate": searches.without_candidate,
        "holds": holds,
        "bookings": b.bookings,
        "cancellations": b.cancellations,
        "fulfilled": b.fulfilled,
        "noshow": b.noshow,
        "bookings_within_48h": b.within_48h,
        "share_within_48h": round(b.within_48h / b.bookings, 4) if b.bookings else None,
        "median_distance_km": (
            None if b.median_distance_m is None else round(b.median_distance_m / 1000, 3)
        ),
        "median_delay_hours": (
            None if b.median_delay_s is None else _hours(float(b.median_delay_s))
        ),
        "en_sus_requests": en_sus.opened,
        "en_sus_accepted": en_sus.accepted,
        "en_sus_expired": en_sus.expired,
    }


async def territory_indicators(
    session: AsyncSession,
    principal: Principal,
    territory_id: uuid.UUID,
    first: date,
    last: date,
) -> Indicators:
    """Every figure of the territory for the days `first` to `last` in its zone (audited)."""
    check_period(first, last)
    territory = await session.get(Territory, territory_id)
    if territory is None:
        raise NotFound(f"no territory {territory_id}", location="query.territory")
    start, end = period_bounds(first, last, territory.timezone)
    weeks = iso_weeks(first, last, territory.timezone)
    names = [name for name, _ in weeks]
    params = {
        "territory_id": territory_id,
        "start": start,
        "end": end,
        "weeks": [starts for _, starts in weeks],
    }
    await session.execute(_CUSTOM_PLANS)
    slots = list(await session.execute(sql.SLOTS, params))
    searches = (await session.execute(sql.SEARCHES, params)).one()
    holds = await session.scalar(sql.HOLDS, params) or 0
    bookings = (await session.execute(sql.BOOKINGS, params)).one()
    majoration_rows = list(await session.execute(sql.MAJORATION, params))
    en_sus = (await session.execute(sql.EN_SUS, params)).one()

    # Each slot has the label SNP once at most: its rows under SNP sum each slot once.
    snp_seconds: dict[tuple[uuid.UUID, int], float] = defaultdict(float)
    for r in slots:
        if r.label == "SNP":
            snp_seconds[(r.professional_id, r.week)] += r.seconds
    majoration = {(r.professional_id, r.week): int(r.consultations) for r in majoration_rows}
    active = {r.professional_id for r in slots} | {r.professional_id for r in majoration_rows}
    professionals = list(
        await session.execute(
            sql.PROFESSIONALS, {"territory_id": territory_id, "with_activity": list(active)}
        )
    )
    result: Indicators = {
        "territory_id": str(territory_id),
        "period": {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "timezone": territory.timezone,
        },
        "weeks": names,
        "totals": _totals(slots, searches, holds, bookings, en_sus),
        "slots": [
            {
                "week": names[r.week - 1],
                "professional_id": str(r.professional_id),
                "modality": r.modality,
                "label": r.label,
                "slots": r.slots,
                "hours": _hours(r.seconds),
            }
            for r in slots
        ],
        "professionals": [
            {
                "id": str(p.id),
                "rpps": p.rpps,
                "family_name": p.family_name,
                "given_name": p.given_name,
                "weekly_snp_cap": p.weekly_snp_cap,
                "weeks": [
                    {
                        "week": name,
                        "snp_hours": _hours(snp_seconds.get((p.id, i), 0.0)),
                        "forfait_eligible": snp_seconds.get((p.id, i), 0.0) >= FORFAIT_SECONDS,
                        "majoration_candidates": majoration.get((p.id, i), 0),
                        "majoration_eligible": min(majoration.get((p.id, i), 0), p.weekly_snp_cap),
                    }
                    for i, name in enumerate(names, start=1)
                ],
            }
            for p in professionals
        ],
    }
    await audit.record(
        session,
        principal,
        "indicators.read",
        "territory",
        territory_id,
        territory_id=territory_id,
        detail={"from": first.isoformat(), "to": last.isoformat()},
    )
    return result
