"""A known month of a CPTS (October 2026, Europe/Paris, across the change of the clocks on
Sunday 25 October), written with SQL: every figure of `GET /v1/indicators` for it is known.

Weeks: W40 (28 Sep–4 Oct) … W44 (26 Oct–1 Nov). Professionals: A (cap 20), B (cap 2), C
(works there, no activity), D (works there, inactive, no activity: not listed).
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dispatch_factories import World, add_professional, make_world, new_client

PARIS = ZoneInfo("Europe/Paris")


def at(month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=PARIS, fold=fold)


@dataclass
class Month:
    world: World
    other: World
    a: uuid.UUID
    b: uuid.UUID
    c: uuid.UUID
    d: uuid.UUID
    booking_ids: list[uuid.UUID] = field(default_factory=list)


async def _slot(
    session: AsyncSession,
    world: World,
    professional: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    modality: str = "AMB",
    labels: tuple[str, ...] = ("SNP",),
    status: str = "free",
) -> uuid.UUID:
    slot_id: uuid.UUID = (
        await session.execute(
            text(
                "INSERT INTO slots (source_client_id, external_id, professional_id, site_id, "
                "start_at, end_at, modality, labels, status) VALUES (:src, :ext, :pro, :site, "
                ":start, :end, :modality, CAST(:labels AS text[]), :status) RETURNING id"
            ),
            {
                "src": world.source_id,
                "ext": f"ext-{uuid.uuid4().hex}",
                "pro": professional,
                "site": world.site_id,
                "start": start,
                "end": end,
                "modality": modality,
                "labels": list(labels),
                "status": status,
            },
        )
    ).scalar_one()
    return slot_id


async def _booking(
    session: AsyncSession,
    world: World,
    slot_id: uuid.UUID,
    start: datetime,
    *,
    status: str = "booked",
    delay: timedelta,
    distance_m: float | None = None,
    searched: bool | None = None,
    mt: bool | None = None,
) -> uuid.UUID:
    """A hold made `delay` before the slot's start (its search then, when `searched`)."""
    searched = distance_m is not None if searched is None else searched
    origin = start - delay
    booked = status not in ("held", "released", "expired")
    booking_id: uuid.UUID = (
        await session.execute(
            text(
                "INSERT INTO bookings (slot_id, regulator_client_id, status, expires_at, "
                "territory_id, professional_id, starts_at, searched_at, search_distance_m, "
                "medecin_traitant_booked, booked_at, created_at, updated_at) "
                "SELECT s.id, :reg, :status, :expires, :territory, s.professional_id, "
                "s.start_at, :searched_at, :distance, :mt, :booked_at, :created, :created "
                "FROM slots s WHERE s.id = :slot RETURNING id"
            ),
            {
                "slot": slot_id,
                "reg": world.regulator_id,
                "status": status,
                "expires": origin + timedelta(minutes=5),
                "territory": world.territory_id,
                "searched_at": origin if searched else None,
                "distance": distance_m,
                "mt": mt,
                "booked_at": origin + timedelta(minutes=1) if booked else None,
                "created": origin,
            },
        )
    ).scalar_one()
    return booking_id


async def _search(
    session: AsyncSession,
    actor: uuid.UUID,
    when: datetime,
    candidates: int,
    territory_id: uuid.UUID | None,
    territory_ids: list[uuid.UUID],
) -> None:
    await session.execute(
        text(
            "INSERT INTO audit_events (occurred_at, actor_client_id, actor, action, "
            "resource_type, territory_id, detail) VALUES (:at, :actor, 'regulator', "
            "'search.run', 'search', :territory, CAST(:detail AS jsonb))"
        ),
        {
            "at": when,
            "actor": actor,
            "territory": territory_id,
            "detail": orjson.dumps(
                {
                    "candidates": candidates,
                    "radius_km": 10.0,
                    "enlarged": False,
                    "limit": 10,
                    "modalities": ["AMB", "HH", "VR"],
                    "territory_ids": [str(t) for t in territory_ids],
                }
            ).decode(),
        },
    )


async def _en_sus(
    session: AsyncSession, world: World, created: datetime, status: str, accepted_by: uuid.UUID
) -> None:
    await session.execute(
        text(
            "INSERT INTO en_sus_requests (territory_id, regulator_client_id, criteria, status, "
            "expires_at, accepted_by_professional_id, accepted_at, created_at, updated_at) "
            "VALUES (:t, :reg, '{}', :status, :expires, :by, :accepted_at, :created, :created)"
        ),
        {
            "t": world.territory_id,
            "reg": world.regulator_id,
            "status": status,
            "expires": created + timedelta(minutes=30),
            "by": accepted_by if status == "accepted" else None,
            "accepted_at": created + timedelta(minutes=10) if status == "accepted" else None,
            "created": created,
        },
    )


async def seed_month(session: AsyncSession) -> Month:
    world = await make_world(session, professionals=2)
    other = await make_world(session)
    a, b = world.professional_ids
    c = await add_professional(session, world.site_id)
    d = await add_professional(session, world.site_id)
    await session.execute(text("UPDATE professionals SET active = false WHERE id = :d"), {"d": d})
    await session.execute(
        text("UPDATE professionals SET weekly_snp_cap = 2 WHERE id = :b"), {"b": b}
    )
    month = Month(world, other, a, b, c, d)
    hour = timedelta(hours=1)

    async def slot_booked(
        professional: uuid.UUID,
        start: datetime,
        minutes: int,
        *,
        status: str = "booked",
        slot_status: str | None = None,
        labels: tuple[str, ...] = ("SNP",),
        **kw: object,
    ) -> None:
        end = start + timedelta(minutes=minutes)
        if slot_status is None:
            slot_status = {"cancelled": "free"}.get(status, "booked")
        slot = await _slot(
            session, world, professional, start, end, labels=labels, status=slot_status
        )
        month.booking_ids.append(
            await _booking(session, world, slot, start, status=status, **kw)  # type: ignore[arg-type]
        )

    # W40. A: a slot from the period's first instant (1 Oct 00:00 in Paris, 30 Sep 22:00 UTC);
    # one before it (not counted); a consultation on 1 Oct booked on 30 Sep (majoration of W40,
    # not a booking of the period).
    await _slot(session, world, a, at(10, 1, 0), at(10, 1, 1))
    await _slot(session, world, a, at(9, 30, 23), at(9, 30, 23, 30))
    await slot_booked(a, at(10, 1, 9), 15, delay=14 * hour, distance_m=500.0)

    # W41. A: 21 consultations of 15 min on 6 Oct, held 3 h before (no search quoted): the
    # majoration is capped at A's 20.
    for i in range(21):
        await slot_booked(
            a,
            at(10, 6, 8) + timedelta(minutes=15 * i),
            15,
            status="booked" if i < 11 else "fulfilled",
            delay=3 * hour,
        )

    # W42. B: SNP slots of 40 + 40 + 39 min = 1 h 59 (no forfait), each a majoration (cap 2);
    # a PRO-only home visit; A: a slot without a label, and a cancelled slot.
    await slot_booked(b, at(10, 13, 9), 40, delay=2 * hour, distance_m=1000.0)
    await slot_booked(
        b,
        at(10, 13, 10),
        40,
        status="fulfilled",
        delay=48 * hour - timedelta(minutes=1),
        distance_m=2000.0,
    )
    await slot_booked(b, at(10, 13, 11), 39, status="fulfilled", delay=10 * hour)
    await _slot(session, world, b, at(10, 14, 9), at(10, 14, 10), modality="HH", labels=("PRO",))
    await _slot(session, world, a, at(10, 14, 9), at(10, 14, 9, 30), labels=())
    await _slot(session, world, a, at(10, 14, 10), at(10, 14, 11), status="cancelled")

    # W43. A: 1:30 CEST → 2:30 CET on 25 Oct lasts 2 h (1 h by the wall clock): the forfait,
    # exactly. Consultations (CPTS label, 30 min): within 48 h exactly; 1 min over; the
    # médecin traitant booked; another doctor booked; cancelled by the regulator (the slot
    # free again); no-show; cancelled by the practice (the slot cancelled).
    await _slot(session, world, a, at(10, 25, 1, 30), at(10, 25, 2, 30, fold=1), modality="VR")
    cpts = ("CPTS",)
    start = at(10, 20, 9)
    half = timedelta(minutes=30)
    await slot_booked(a, start, 30, labels=cpts, delay=48 * hour, distance_m=3000.0)
    await slot_booked(
        a,
        start + half,
        30,
        labels=cpts,
        delay=48 * hour + timedelta(minutes=1),
        distance_m=4000.0,
    )
    await slot_booked(a, start + 2 * half, 30, labels=cpts, delay=5 * hour, mt=True)
    await slot_booked(
        a, start + 3 * half, 30, labels=cpts, delay=5 * hour, distance_m=8000.0, mt=False
    )
    await slot_booked(a, start + 4 * half, 30, labels=cpts, status="cancelled", delay=5 * hour)
    await slot_booked(a, start + 5 * half, 30, labels=cpts, status="noshow", delay=5 * hour)
    await slot_booked(
        a,
        start + 6 * half,
        30,
        labels=cpts,
        status="cancelled",
        slot_status="cancelled",
        delay=5 * hour,
    )
    # Two holds that never became bookings, taken in October.
    for hour_of_day, status in [(9, "released"), (10, "expired")]:
        slot = await _slot(session, world, b, at(10, 21, hour_of_day), at(10, 21, hour_of_day, 20))
        month.booking_ids.append(
            await _booking(session, world, slot, at(10, 21, hour_of_day), status=status, delay=hour)
        )

    # W44. B: Monday 26 Oct 00:30 in Paris is still Sunday 25 Oct in UTC: 2 h of SNP in W44.
    # A consultation on Sunday 1 Nov (W44 too, but after the period), booked on 31 Oct.
    await _slot(
        session,
        world,
        b,
        at(10, 26, 0, 30),
        at(10, 26, 2, 30),
        modality="HH",
        labels=("SNP", "PUBLIC"),
    )
    await slot_booked(
        b, at(11, 1, 10), 20, delay=16 * hour + timedelta(minutes=5), distance_m=5000.0
    )

    # Another territory's slot, hold and search: never counted.
    foreign = await _slot(session, other, other.professional_ids[0], at(10, 15, 9), at(10, 15, 10))
    await _booking(session, other, foreign, at(10, 15, 9), delay=hour, distance_m=10.0)

    # Searches: the regulator of this territory only (its events carry the territory), one of
    # several territories (they list them), another territory's.
    multi, _ = await new_client(
        session, "regulator", territory_ids=[world.territory_id, other.territory_id]
    )
    t = world.territory_id
    for when, candidates in [
        (at(10, 2, 10), 4),
        (at(10, 9, 10), 0),
        (at(10, 16, 10), 0),
        (at(10, 23, 10), 7),
        (at(10, 31, 23, 30), 3),  # 22:30 UTC: in the period
        (at(9, 30, 23, 30), 5),  # 21:30 UTC on 30 Sep: before it
        (at(11, 1, 0, 30), 5),  # 23:30 UTC on 31 Oct: after it in Paris
    ]:
        await _search(session, world.regulator_id, when, candidates, t, [t])
    for when, candidates in [(at(10, 3, 8), 2), (at(10, 26, 8), 0), (at(10, 27, 8), 1)]:
        await _search(session, multi, when, candidates, None, [other.territory_id, t])
    await _search(
        session, other.regulator_id, at(10, 5, 8), 0, other.territory_id, [other.territory_id]
    )

    # En-sus requests: opened in October (open, accepted, expired, cancelled), one in September.
    for created, status in [
        (at(10, 4, 12), "open"),
        (at(10, 11, 12), "accepted"),
        (at(10, 18, 12), "expired"),
        (at(10, 30, 12), "cancelled"),
        (at(9, 29, 12), "accepted"),
    ]:
        await _en_sus(session, world, created, status, a)
    return month
