"""Journal d'audit: the trail, newest first, filtered by actor, object and date
(`services/audit/trail`)."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.admin.context import territory_context, url
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import PageVisit
from app.core.db import SessionDep
from app.services.audit import trail

router = APIRouter(prefix="/journal", route_class=AdminRoute)
PAGE_SIZE = 50


def _bound(day: date | None, zone: ZoneInfo, after: bool) -> datetime | None:
    """The start of `day` in the territory's zone (the day after, for an inclusive end)."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1 if after else 0), time(), zone)


@router.get("")
async def journal_page(
    request: Request,
    session: SessionDep,
    visit: PageVisit,
    territoire: str | None = None,
    acteur: str = "",
    type_objet: str = "",
    objet: str = "",
    du: date | None = None,
    au: date | None = None,
    cursor: str | None = None,
) -> Response:
    territory, territories = await territory_context(session, territoire)
    zone = ZoneInfo(territory.timezone if territory else "Europe/Paris")
    filters = {
        "acteur": acteur.strip()[:200],
        "type_objet": type_objet.strip()[:100],
        "objet": objet.strip()[:100],
    }
    items, next_cursor = await trail.list_audit_events(
        session,
        cursor,
        PAGE_SIZE,
        resource_type=filters["type_objet"] or None,
        resource_id=filters["objet"] or None,
        actor=filters["acteur"] or None,
        since=_bound(du, zone, after=False),
        until=_bound(au, zone, after=True),
    )
    return page(
        request,
        "audit.html",
        visit,
        section="audit",
        territory=territory,
        territories=territories,
        items=items,
        filters=filters,
        du=du,
        au=au,
        zone=str(zone),
        next_url=next_cursor
        and url(
            "/admin/journal",
            territoire=territoire,
            du=du,
            au=au,
            cursor=next_cursor,
            **filters,
        ),
    )
