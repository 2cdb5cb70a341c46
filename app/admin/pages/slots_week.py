"""Créneaux: one professional's slots over a week, day by day, with their status.

A held slot whose hold has lapsed shows as free (the shared rule, `services/slots/rules.py`);
cancelled slots are not shown (they are no longer in the agenda). The week runs Monday to
Sunday in the territory's time zone.
"""

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import select, text
from starlette.responses import Response

from app.admin.context import territory_context, url
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import PageVisit
from app.core.db import SessionDep
from app.models import Professional
from app.services.slots.rules import lapsed_hold

router = APIRouter(prefix="/creneaux", route_class=AdminRoute)

_WEEK = text(
    f"""
    SELECT s.id, s.start_at, s.end_at, s.modality, s.external_id,
           CASE WHEN {lapsed_hold("s")} THEN 'free' ELSE s.status END AS status,
           si.name AS site_name
    FROM slots s JOIN sites si ON si.id = s.site_id
    WHERE s.professional_id = :professional_id AND s.status <> 'cancelled'
      -- The exclusion constraint's GiST index (professional, time range; not cancelled).
      AND tstzrange(s.start_at, s.end_at) && tstzrange(:start, :end)
      AND s.start_at >= :start AND s.start_at < :end
    ORDER BY s.start_at
    LIMIT 2000
    """  # noqa: S608 (built from the shared rules' constants)
)
MODALITIES = {"AMB": "au cabinet", "HH": "à domicile", "VR": "téléconsultation"}


@router.get("")
async def week_page(
    request: Request,
    session: SessionDep,
    visit: PageVisit,
    territoire: str | None = None,
    professionnel: str = "",
    rpps: str = "",
    semaine: date | None = None,
) -> Response:
    territory, territories = await territory_context(session, territoire)
    zone = ZoneInfo(territory.timezone if territory else "Europe/Paris")
    today = datetime.now(zone).date()
    monday = (semaine or today) - timedelta(days=(semaine or today).weekday())
    professional = None
    rpps = rpps.strip()
    try:
        if professionnel:
            professional = await session.get(Professional, uuid.UUID(professionnel))
    except ValueError:
        professional = None
    if professional is None and rpps:
        professional = await session.scalar(select(Professional).where(Professional.rpps == rpps))
    days: list[tuple[date, list[object]]] = [(monday + timedelta(days=i), []) for i in range(7)]
    if professional is not None:
        start = datetime.combine(monday, time(), zone)
        rows = await session.execute(
            _WEEK,
            {"professional_id": professional.id, "start": start, "end": start + timedelta(7)},
        )
        for row in rows:
            days[(row.start_at.astimezone(zone).date() - monday).days][1].append(row)

    def week_url(day: date) -> str:
        return url(
            "/admin/creneaux",
            territoire=territoire,
            professionnel=professional.id if professional else None,
            semaine=day.isoformat(),
        )

    return page(
        request,
        "slots_week.html",
        visit,
        section="slots",
        territory=territory,
        territories=territories,
        professional=professional,
        rpps=rpps,
        days=days,
        zone=str(zone),
        monday=monday,
        previous_url=week_url(monday - timedelta(days=7)),
        next_url=week_url(monday + timedelta(days=7)),
        modalities=MODALITIES,
        not_found=bool(rpps) and professional is None,
    )
