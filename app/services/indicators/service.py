"""The indicators of one territory for a period (rules: the package docstring)."""

import uuid
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import InvalidInput, NotFound
from app.models import Territory
from app.schemas.indicators import (
    Indicators,
    Period,
    ProfessionalFigures,
    ProfessionalWeek,
    SlotFigure,
    Totals,
)
from app.services.audit import record as audit
from app.services.indicators import sql

FORFAIT_SECONDS = 2 * 3600
MAX_PERIOD_DAYS = 366


def iso_weeks(first: date, last: date) -> list[str]:
    """The ISO weeks from the one of `first` to the one of `last`, as `2026-W43`."""
    weeks = []
    monday = first - timedelta(days=first.isoweekday() - 1)
    while monday <= last:
        year, week, _ = monday.isocalendar()
        weeks.append(f"{year}-W{week:02d}")
        monday += timedelta(days=7)
    return weeks


def _bounds(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    return start, end


def check_period(first: date, last: date) -> None:
    """A period is whole days, `from` up to `to`, at most MAX_PERIOD_DAYS of them."""
    if last < first:
        raise InvalidInput("`to` is before `from`", location="query.to")
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput(
            f"a period is at most {MAX_PERIOD_DAYS} days; ask for several periods",
            location="query.to",
        )


def _hours(seconds: Any) -> float:
    return round(float(seconds or 0) / 3600, 4)


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
    start, end = _bounds(first, last, territory.timezone)
    params = {"territory_id": territory_id, "tz": territory.timezone, "start": start, "end": end}

    slot_rows = list(await session.execute(sql.SLOTS, params))
    slot_totals = (await session.execute(sql.SLOT_TOTALS, params)).one()
    searches = (await session.execute(sql.SEARCHES, params)).one()
    holds = await session.scalar(sql.HOLDS, params)
    bookings = (await session.execute(sql.BOOKINGS, params)).one()
    majoration_rows = list(await session.execute(sql.MAJORATION, params))
    en_sus = (await session.execute(sql.EN_SUS, params)).one()

    snp_seconds: dict[tuple[uuid.UUID, str], float] = defaultdict(float)
    for r in slot_rows:
        if r.label == "SNP":
            snp_seconds[(r.professional_id, r.week)] += float(r.seconds)
    majoration = {(r.professional_id, r.week): int(r.consultations) for r in majoration_rows}
    active = {r.professional_id for r in slot_rows} | {r.professional_id for r in majoration_rows}
    professionals = list(
        await session.execute(sql.PROFESSIONALS, {**params, "with_activity": list(active)})
    )
    weeks = iso_weeks(first, last)

    result = Indicators(
        territory_id=territory_id,
        period=Period(from_=first, to=last, timezone=territory.timezone),
        weeks=weeks,
        totals=Totals(
            slots_offered=slot_totals.slots,
            slot_hours=_hours(slot_totals.seconds),
            searches=searches.searches,
            searches_without_candidate=searches.without_candidate,
            holds=holds or 0,
            bookings=bookings.bookings,
            cancellations=bookings.cancellations,
            fulfilled=bookings.fulfilled,
            noshow=bookings.noshow,
            bookings_within_48h=bookings.within_48h,
            share_within_48h=(
                round(bookings.within_48h / bookings.bookings, 4) if bookings.bookings else None
            ),
            median_distance_km=(
                None
                if bookings.median_distance_m is None
                else round(bookings.median_distance_m / 1000, 3)
            ),
            median_delay_hours=(
                None if bookings.median_delay_s is None else _hours(bookings.median_delay_s)
            ),
            en_sus_requests=en_sus.opened,
            en_sus_accepted=en_sus.accepted,
            en_sus_expired=en_sus.expired,
        ),
        slots=[
            SlotFigure(
                week=r.week,
                professional_id=r.professional_id,
                modality=r.modality,
                label=r.label,
                slots=r.slots,
                hours=_hours(r.seconds),
            )
            for r in slot_rows
        ],
        professionals=[
            ProfessionalFigures(
                id=p.id,
                rpps=p.rpps,
                family_name=p.family_name,
                given_name=p.given_name,
                weekly_snp_cap=p.weekly_snp_cap,
                weeks=[
                    ProfessionalWeek(
                        week=week,
                        snp_hours=_hours(snp_seconds[(p.id, week)]),
                        forfait_eligible=snp_seconds[(p.id, week)] >= FORFAIT_SECONDS,
                        majoration_candidates=majoration.get((p.id, week), 0),
                        majoration_eligible=min(majoration.get((p.id, week), 0), p.weekly_snp_cap),
                    )
                    for week in weeks
                ],
            )
            for p in professionals
        ],
    )
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
