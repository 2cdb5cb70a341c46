"""Professionnels: list and search, create, edit, deactivate
(`services/directory/professionals`)."""

import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from app.admin.context import territory_context, url
from app.admin.forms import checked, parse, refusal_messages, text_or_none, words
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import FormVisit, PageVisit
from app.core.db import SessionDep
from app.core.errors import AppError
from app.core.pagination import keyset
from app.core.pagination import page as cut_page
from app.models import Professional
from app.schemas.professional import ProfessionalCreate, ProfessionalUpdate
from app.services.directory import professionals

router = APIRouter(prefix="/professionnels", route_class=AdminRoute)
PAGE_SIZE = 50
_FIELDS = ("family_name", "given_name", "profession", "specialty", "weekly_snp_cap")


async def search_professionals(
    session: AsyncSession, q: str, cursor: str | None
) -> tuple[list[Professional], str | None]:
    """By RPPS or the start of a name, in creation order, paged like the API's list."""
    query = select(Professional)
    if q:
        like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Professional.rpps == q,
                Professional.family_name.ilike(like),
                Professional.given_name.ilike(like),
            )
        )
    rows = (
        await session.scalars(
            keyset(query, Professional.created_at, Professional.id, cursor, PAGE_SIZE)
        )
    ).all()
    return cut_page(rows, PAGE_SIZE)


def _values(form: FormData, creating: bool) -> dict[str, Any]:
    """The form as the API's body: blank optional fields left out, checkboxes as booleans."""
    values: dict[str, Any] = {}
    for name in (("rpps",) if creating else ()) + _FIELDS:
        value = text_or_none(form.get(name))
        if value is not None or (name == "specialty" and not creating):
            values[name] = value
    values["sas_participant"] = checked(form, "sas_participant")
    values["accepts_en_sus"] = checked(form, "accepts_en_sus")
    values["languages"] = words(form.get("languages")) or ["fr"]
    return values


@router.get("")
async def list_page(
    request: Request,
    session: SessionDep,
    visit: PageVisit,
    territoire: str | None = None,
    q: str = "",
    cursor: str | None = None,
) -> Response:
    territory, territories = await territory_context(session, territoire)
    q = q.strip()[:200]
    try:
        items, next_cursor = await search_professionals(session, q, cursor)
    except AppError:
        items, next_cursor = await search_professionals(session, q, None)
    return page(
        request,
        "professionals.html",
        visit,
        section="professionals",
        territory=territory,
        territories=territories,
        items=items,
        q=q,
        next_url=next_cursor
        and url("/admin/professionnels", territoire=territoire, q=q, cursor=next_cursor),
    )


async def _form_page(
    request: Request,
    session: AsyncSession,
    visit: Any,
    territoire: str | None,
    values: dict[str, Any],
    errors: dict[str, str],
    professional: Professional | None = None,
    notice: str | None = None,
) -> Response:
    territory, territories = await territory_context(session, territoire)
    return page(
        request,
        "professional_form.html",
        visit,
        status_code=422 if errors else 200,
        section="professionals",
        territory=territory,
        territories=territories,
        values=values,
        errors=errors,
        professional=professional,
        notice=notice,
    )


@router.get("/nouveau")
async def new_page(
    request: Request, session: SessionDep, visit: PageVisit, territoire: str | None = None
) -> Response:
    defaults = {"profession": "10", "specialty": "SM54", "weekly_snp_cap": 20, "languages": ["fr"]}
    return await _form_page(request, session, visit, territoire, defaults, {})


@router.post("/nouveau")
async def create(
    request: Request, session: SessionDep, visit: FormVisit, territoire: str | None = None
) -> Response:
    form = await request.form()
    values = _values(form, creating=True)
    data, errors = parse(ProfessionalCreate, values)
    if data is not None:
        try:
            async with session.begin_nested():
                created = await professionals.create_professional(session, visit.actor, data)

        except AppError as exc:
            errors = refusal_messages(exc)
        else:
            return RedirectResponse(
                url(f"/admin/professionnels/{created.id}", territoire=territoire, cree=1), 303
            )
    values["rpps"] = form.get("rpps", "")
    return await _form_page(request, session, visit, territoire, values, errors)


@router.get("/{professional_id}")
async def edit_page(
    request: Request,
    session: SessionDep,
    visit: PageVisit,
    professional_id: uuid.UUID,
    territoire: str | None = None,
    cree: int = 0,
) -> Response:
    professional = await professionals.get_professional(session, professional_id)
    values = {c: getattr(professional, c) for c in ("rpps", *_FIELDS, "languages")}
    values |= {"sas_participant": professional.sas_participant}
    values |= {"accepts_en_sus": professional.accepts_en_sus}
    notice = "Professionnel créé." if cree else None
    return await _form_page(request, session, visit, territoire, values, {}, professional, notice)


@router.post("/{professional_id}")
async def update(
    request: Request,
    session: SessionDep,
    visit: FormVisit,
    professional_id: uuid.UUID,
    territoire: str | None = None,
) -> Response:
    professional = await professionals.get_professional(session, professional_id)
    form = await request.form()
    values = _values(form, creating=False)
    data, errors = parse(ProfessionalUpdate, values)
    if data is not None:
        try:
            async with session.begin_nested():
                professional = await professionals.update_professional(
                    session, visit.actor, professional_id, data
                )

        except AppError as exc:
            errors = refusal_messages(exc)
        else:
            values["rpps"] = professional.rpps
            return await _form_page(
                request, session, visit, territoire, values, {}, professional, "Enregistré."
            )
    values["rpps"] = professional.rpps
    return await _form_page(request, session, visit, territoire, values, errors, professional)


@router.post("/{professional_id}/desactiver")
async def deactivate(
    session: SessionDep, visit: FormVisit, professional_id: uuid.UUID, territoire: str | None = None
) -> Response:
    await professionals.deactivate_professional(session, visit.actor, professional_id)
    return RedirectResponse(
        url(f"/admin/professionnels/{professional_id}", territoire=territoire), 303
    )
