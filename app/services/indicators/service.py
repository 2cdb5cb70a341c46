"""The indicators of one territory for a period (rules: the package docstring)."""

import uuid
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
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

# A generic plan cannot see the territory or the period: it took the searches of every
# territory in the period (the NULL-territory btree range) over the territory's GIN entries.
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
FORFAIT_SECONDS = 2 * 3600
MAX_PERIOD_DAYS = 366
# The days the service counts in (and whose bounds are instants every library can hold).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)


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

    slot_groups = list(await session.execute(sql.SLOTS, params))
    searches = (await session.execute(sql.SEARCHES, params)).one()
    holds = await session.scalar(sql.HOLDS, params)
    bookings = (await session.execute(sql.BOOKINGS, params)).one()
    majoration_rows = list(await session.execute(sql.MAJORATION, params))
    en_sus = (await session.execute(sql.EN_SUS, params)).one()

    # A group of slots counts under each of its labels (a slot without one, under none).
    by_label: dict[tuple[str, uuid.UUID, str, str | None], list[float]] = defaultdict(
        lambda: [0, 0.0]
    )
    snp_seconds: dict[tuple[uuid.UUID, str], float] = defaultdict(float)
    slots_offered, offered_seconds = 0, 0.0
    for g in slot_groups:
        week, seconds = names[g.week - 1], float(g.seconds)
        slots_offered += g.slots
        offered_seconds += seconds
        for label in g.labels or [None]:
            figure = by_label[(week, g.professional_id, g.modality, label)]
            figure[0] += g.slots
            figure[1] += seconds
        if "SNP" in g.labels:
            snp_seconds[(g.professional_id, week)] += seconds
    majoration = {
        (r.professional_id, names[r.week - 1]): int(r.consultations) for r in majoration_rows
    }
    active = {g.professional_id for g in slot_groups} | {r.professional_id for r in majoration_rows}
    professionals = list(
        await session.execute(
            sql.PROFESSIONALS, {"territory_id": territory_id, "with_activity": list(active)}
        )
    )

    result = Indicators(
        territory_id=territory_id,
        period=Period(from_=first, to=last, timezone=territory.timezone),
        weeks=names,
        totals=Totals(
            slots_offered=slots_offered,
            slot_hours=_hours(offered_seconds),
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
                None if bookings.median_delay_s is None else _hours(float(bookings.median_delay_s))
            ),
            en_sus_requests=en_sus.opened,
            en_sus_accepted=en_sus.accepted,
            en_sus_expired=en_sus.expired,
        ),
        slots=[
            # Built from our own figures (thousands of rows for a large CPTS): not re-validated.
            SlotFigure.model_construct(
                week=week,
                professional_id=professional_id,
                modality=modality,
                label=label,
                slots=int(count),
                hours=_hours(seconds),
            )
            for (week, professional_id, modality, label), (count, seconds) in sorted(
                by_label.items(), key=lambda item: (*item[0][:3], item[0][3] or "~")
            )
        ],
        professionals=[
            ProfessionalFigures(
                id=p.id,
                rpps=p.rpps,
                family_name=p.family_name,
                given_name=p.given_name,
                weekly_snp_cap=p.weekly_snp_cap,
                weeks=[
                    ProfessionalWeek.model_construct(
                        week=week,
                        snp_hours=_hours(snp_seconds[(p.id, week)]),
                        forfait_eligible=snp_seconds[(p.id, week)] >= FORFAIT_SECONDS,
                        majoration_candidates=majoration.get((p.id, week), 0),
                        majoration_eligible=min(majoration.get((p.id, week), 0), p.weekly_snp_cap),
                    )
                    for week in names
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
