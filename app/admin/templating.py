"""The Jinja2 environment of the admin pages (autoescaped) and the French formats they use."""

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from app.admin.visit import CSRF_FIELD, Visit

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

STATUS_LABELS = {
    "free": "libre",
    "held": "réservé (en cours)",
    "booked": "pris",
    "cancelled": "annulé",
    "open": "ouverte",
    "accepted": "acceptée",
    "expired": "expirée",
    "pending": "en attente",
    "delivered": "livré",
    "failed": "en échec",
}
ROLE_LABELS = {
    "admin": "administration",
    "regulator": "régulation",
    "practice_software": "logiciel de cabinet",
    "sas_platform": "plateforme SAS",
}


DAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")


def local(value: datetime | None, zone: str = "Europe/Paris", fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A timestamp in the territory's time zone, French style (`%a`: the French day)."""
    if value is None:
        return "—"
    at = value.astimezone(ZoneInfo(zone))
    return at.strftime(fmt.replace("%a", DAYS[at.weekday()]))


templates.env.filters["local"] = local
templates.env.globals["STATUS_LABELS"] = STATUS_LABELS
templates.env.globals["ROLE_LABELS"] = ROLE_LABELS
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD
templates.env.globals["zip"] = zip


def page(
    request: Request,
    name: str,
    visit: Visit | None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """Render the template `name` for `visit` (its CSRF token goes into every form)."""
    context.setdefault("errors", {})
    context.update(visit=visit, csrf_token=visit.csrf_token if visit else "")
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response
