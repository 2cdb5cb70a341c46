"""Indicateurs: the CPTS's SNP figures for a period (`services/indicators`), as tables, two
server-drawn charts by ISO week and a CSV download; the same figures as `GET /v1/indicators`."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.admin.context import territory_context
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import PageVisit
from app.core.db import SessionDep
from app.core.errors import AppError
from app.services.indicators.csv_export import indicators_csv
from app.services.indicators.service import MAX_PERIOD_DAYS, territory_indicators

router = APIRouter(prefix="/indicateurs", route_class=AdminRoute)

WIDTH, HEIGHT, AXIS = 960, 200, 28
COLOUR = "#1f4e9c"


@dataclass(frozen=True)
class WeekBar:
    x: float
    width: float
    y: float
    height: float
    label: str
    tick: str


def week_bars(values: list[tuple[str, float]], unit: str) -> tuple[list[WeekBar], float]:
    """One bar per ISO week, scaled to the largest value."""
    top = max([v for _, v in values] + [1.0])
    step = WIDTH / max(len(values), 1)
    out = []
    for i, (week, value) in enumerate(values):
        height = (HEIGHT - AXIS - 4) * value / top
        shown = f"{value:g}"
        tick = week.split("-W")[1] if len(values) <= 26 or i % 4 == 0 else ""
        out.append(
            WeekBar(
                i * step,
                max(step - 2, 1),
                HEIGHT - AXIS - height,
                height,
                f"{week} : {shown} {unit}",
                tick,
            )
        )
    return out, top


def _period(du: str | None, au: str | None, zone: str) -> tuple[date, date]:
    """The asked days, or by default the last four whole ISO weeks and this one up to today."""
    today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
    first = date.fromisoformat(du) if du else today - timedelta(days=today.isoweekday() - 1 + 28)
    last = date.fromisoformat(au) if au else today
    return first, last


def _by_week(data: dict[str, Any]) -> dict[str, list[tuple[str, float]]]:
    hours = dict.fromkeys(data["weeks"], 0.0)
    forfait = dict.fromkeys(data["weeks"], 0.0)
    for professional in data["professionals"]:
        for week in professional["weeks"]:
            hours[week["week"]] += week["snp_hours"]
            forfait[week["week"]] += 1 if week["forfait_eligible"] else 0
    return {
        "hours": [(w, round(h, 1)) for w, h in hours.items()],
        "forfait": list(forfait.items()),
    }


def _professionals(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for p in data["professionals"]:
        weeks = p["weeks"]
        rows.append(
            {
                "name": f"{p['family_name']} {p['given_name']}",
                "rpps": p["rpps"],
                "snp_hours": round(sum(w["snp_hours"] for w in weeks), 1),
                "forfait_weeks": sum(1 for w in weeks if w["forfait_eligible"]),
                "weeks": len(weeks),
                "majoration": sum(w["majoration_eligible"] for w in weeks),
                "capped": sum(w["majoration_candidates"] - w["majoration_eligible"] for w in weeks),
                "cap": p["weekly_snp_cap"],
            }
        )
    rows.sort(key=lambda r: (-r["snp_hours"], r["name"]))
    return rows


async def _figures(
    session: Any, visit: Any, territory: Any, du: str | None, au: str | None
) -> tuple[dict[str, Any] | None, dict[str, str], date | None, date | None]:
    try:
        first, last = _period(du, au, territory.timezone)
    except ValueError:
        return None, {"__all__": "Dates invalides : utilisez le format AAAA-MM-JJ."}, None, None
    try:
        data = await territory_indicators(session, visit.actor, territory.id, first, last)
    except AppError as exc:
        if "before" in exc.detail:
            message = "La date « au » est avant la date « du »."
        elif "at most" in exc.detail:
            message = f"Une période compte au plus {MAX_PERIOD_DAYS} jours : demandez-en plusieurs."
        else:
            message = "Une date est à choisir entre le 1er janvier 2000 et le 31 décembre 2199."
        return None, {"__all__": message}, first, last
    return data, {}, first, last


@router.get("")
async def indicators_page(
    request: Request,
    session: SessionDep,
    visit: PageVisit,
    territoire: str | None = None,
    du: str | None = None,
    au: str | None = None,
) -> Response:
    territory, territories = await territory_context(session, territoire)
    context: dict[str, Any] = {"errors": {}}
    if territory is not None:
        data, errors, first, last = await _figures(session, visit, territory, du, au)
        context = {"errors": errors, "first": first, "last": last, "data": data}
        if data is not None:
            weekly = _by_week(data)
            hours, hours_top = week_bars(weekly["hours"], "h SNP")
            forfait, forfait_top = week_bars(weekly["forfait"], "professionnels")
            context |= {
                "hours_bars": hours,
                "hours_top": hours_top,
                "forfait_bars": forfait,
                "forfait_top": forfait_top,
                "weekly": weekly,
                "professionals": _professionals(data),
            }
    return page(
        request,
        "indicators.html",
        visit,
        status_code=422 if context["errors"] else 200,
        section="indicators",
        territory=territory,
        territories=territories,
        chart={"WIDTH": WIDTH, "HEIGHT": HEIGHT, "AXIS": AXIS, "COLOUR": COLOUR},
        **context,
    )


@router.get(".csv")
async def indicators_csv_download(
    request: Request,
    session: SessionDep,
    visit: PageVisit,
    territoire: str | None = None,
    du: str | None = None,
    au: str | None = None,
) -> Response:
    """The same figures as CSV (one a line), as `GET /v1/indicators?format=csv` gives them."""
    territory, _ = await territory_context(session, territoire)
    if territory is None:
        return Response("aucun territoire\n", status_code=404, media_type="text/plain")
    data, errors, first, last = await _figures(session, visit, territory, du, au)
    if data is None:
        return Response(errors["__all__"] + "\n", status_code=422, media_type="text/plain")
    return Response(
        indicators_csv(data),
        media_type="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="indicateurs-{territory.id}-{first}-{last}.csv"'
            )
        },
    )
