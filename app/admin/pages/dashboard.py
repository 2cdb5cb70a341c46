"""Tableau de bord: the next 48 h at a glance, and today's counts."""

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.admin import chart, coverage
from app.admin.context import territory_context
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import PageVisit
from app.core.db import SessionDep

router = APIRouter(route_class=AdminRoute)


@router.get("")
async def dashboard(
    request: Request, session: SessionDep, visit: PageVisit, territoire: str | None = None
) -> Response:
    territory, territories = await territory_context(session, territoire)
    context: dict[str, Any] = {}
    if territory is not None:
        now = datetime.now(UTC)
        local_now = now.astimezone(ZoneInfo(territory.timezone))
        day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        hours = await coverage.next_hours(session, territory.id, now)
        strip, top = chart.bars(hours, territory.timezone)
        context = {
            "hours": hours,
            "bars": strip,
            "top": top,
            "totals": {s: sum(getattr(h, s) for h in hours) for s in ("free", "held", "booked")},
            "today": await coverage.today(session, territory.id, day_start),
        }
    return page(
        request,
        "dashboard.html",
        visit,
        section="dashboard",
        territory=territory,
        territories=territories,
        chart=chart,
        **context,
    )
