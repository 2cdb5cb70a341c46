"""Paramètres du territoire: search radius, enlargement step, time zone and the slot labels
published as SMART Scheduling Links (`services/directory/territories`, validated like
`PATCH /v1/territories/{id}`)."""

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.admin.context import territory_context
from app.admin.forms import parse, refusal_messages, text_or_none
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import FormVisit, PageVisit, Visit
from app.core.db import SessionDep
from app.core.errors import AppError
from app.schemas.territory import TerritoryUpdate
from app.services.directory import territories as territory_service

router = APIRouter(prefix="/parametres", route_class=AdminRoute)

# The labels a territory may publish at /smart/$bulk-publish, as the form shows them.
SMART_LABELS = (
    ("PUBLIC", "PUBLIC (ouverts aux patients)"),
    ("PRO", "PRO (professionnels)"),
    ("SNP", "SNP (régulation)"),
    ("CPTS", "CPTS (régulation)"),
)


async def _page(
    request: Request,
    session: SessionDep,
    visit: Visit,
    territoire: str | None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    territory, territories = await territory_context(session, territoire)
    settings = None
    if territory is not None:
        settings = territory_service.territory_out(
            await territory_service.get_territory(session, territory.id)
        )
    return page(
        request,
        "territory.html",
        visit,
        status_code=422 if errors else 200,
        section="territory",
        territory=territory,
        territories=territories,
        settings=settings,
        values=values or (settings.model_dump() if settings else {}),
        errors=errors or {},
        notice=notice,
        smart_labels=SMART_LABELS,
    )


@router.get("")
async def settings_page(
    request: Request, session: SessionDep, visit: PageVisit, territoire: str | None = None
) -> Response:
    return await _page(request, session, visit, territoire)


@router.post("")
async def save(
    request: Request, session: SessionDep, visit: FormVisit, territoire: str | None = None
) -> Response:
    territory, _ = await territory_context(session, territoire)
    if territory is None:
        return await _page(request, session, visit, territoire)
    form = await request.form()
    values: dict[str, Any] = {
        # Blank: back to the département's default from the SAS radius table.
        "radius_km": text_or_none(form.get("radius_km")),
        "enlargement_km": text_or_none(form.get("enlargement_km")),
    }
    for name in ("radius_km", "enlargement_km"):
        if values[name] is not None:
            values[name] = str(values[name]).replace(",", ".")
    if timezone := text_or_none(form.get("timezone")):
        values["timezone"] = timezone
    # The checkboxes say nothing when none is ticked: the hidden field says they were shown.
    if form.get("smart_labels_shown"):
        values["smart_labels"] = [str(label) for label in form.getlist("smart_labels")]
    data, errors = parse(TerritoryUpdate, values)
    if data is not None:
        try:
            async with session.begin_nested():
                await territory_service.update_territory(session, visit.actor, territory.id, data)

        except AppError as exc:
            errors = refusal_messages(exc)
        else:
            return await _page(request, session, visit, str(territory.id), notice="Enregistré.")
    shown: dict[str, Any] = {
        n: form.get(n, "") for n in ("radius_km", "enlargement_km", "timezone")
    }
    shown["smart_labels"] = form.getlist("smart_labels")
    return await _page(request, session, visit, str(territory.id), shown, errors)
