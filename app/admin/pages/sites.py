"""Lieux: a territory's sites, search, create, edit, deactivate (`services/directory/sites`)."""

import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from app.admin.context import territory_context, url
from app.admin.forms import checked, parse, refusal_messages, text_or_none, words
from app.admin.lookups import professional_ids, rpps_of
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import FormVisit, PageVisit, Visit
from app.core.db import SessionDep
from app.core.errors import AppError
from app.core.pagination import keyset
from app.core.pagination import page as cut_page
from app.models import Site
from app.schemas.site import SiteCreate, SiteUpdate
from app.services.directory import sites

router = APIRouter(prefix="/lieux", route_class=AdminRoute)
PAGE_SIZE = 50
_FIELDS = ("name", "address", "postcode", "insee_code", "lat", "lon", "timezone")


async def search_sites(
    session: AsyncSession, territory_id: uuid.UUID, q: str, cursor: str | None
) -> tuple[list[Site], str | None]:
    """The territory's sites, by the start of their name or their postcode, paged."""
    query = select(Site).where(Site.territory_id == territory_id)
    if q:
        like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Site.name.ilike(like), Site.postcode == q))
    rows = (await session.scalars(keyset(query, Site.created_at, Site.id, cursor, PAGE_SIZE))).all()
    return cut_page(rows, PAGE_SIZE)


async def _values(session: AsyncSession, form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = text_or_none(form.get(name))
        if value is not None:
            values[name] = value.replace(",", ".") if name in ("lat", "lon") else value
    values["accessible"] = checked(form, "accessible")
    ids, unknown = await professional_ids(session, words(form.get("professional_rpps")))
    values["professional_ids"] = ids
    return values, ({"professional_ids": unknown} if unknown else {})


async def _form_page(
    request: Request,
    session: AsyncSession,
    visit: Visit,
    territoire: str | None,
    form_values: dict[str, Any],
    errors: dict[str, str],
    site: Site | None = None,
    notice: str | None = None,
) -> Response:
    territory, territories = await territory_context(
        session, str(site.territory_id) if site else territoire
    )
    return page(
        request,
        "site_form.html",
        visit,
        status_code=422 if errors else 200,
        section="sites",
        territory=territory,
        territories=territories,
        values=form_values,
        errors=errors,
        site=site,
        notice=notice,
    )


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
    items: list[Site] = []
    next_cursor = None
    if territory is not None:
        try:
            items, next_cursor = await search_sites(session, territory.id, q, cursor)
        except AppError:
            items, next_cursor = await search_sites(session, territory.id, q, None)
    return page(
        request,
        "sites.html",
        visit,
        section="sites",
        territory=territory,
        territories=territories,
        items=items,
        q=q,
        next_url=next_cursor
        and url("/admin/lieux", territoire=territoire, q=q, cursor=next_cursor),
    )


@router.get("/nouveau")
async def new_page(
    request: Request, session: SessionDep, visit: PageVisit, territoire: str | None = None
) -> Response:
    return await _form_page(request, session, visit, territoire, {}, {})


def _shown(form: FormData, values: dict[str, Any]) -> dict[str, Any]:
    """What the form shows back after a refusal: what was typed."""
    return {**{n: form.get(n, "") for n in _FIELDS}, "accessible": values["accessible"]} | {
        "professional_rpps": form.get("professional_rpps", "")
    }


@router.post("/nouveau")
async def create(
    request: Request, session: SessionDep, visit: FormVisit, territoire: str | None = None
) -> Response:
    territory, _ = await territory_context(session, territoire)
    form = await request.form()
    values, errors = await _values(session, form)
    values["territory_id"] = territory.id if territory else None
    data, invalid = parse(SiteCreate, values)
    errors = invalid | errors
    if data is not None and not errors:
        try:
            async with session.begin_nested():
                created = await sites.create_site(session, visit.actor, data)

        except AppError as exc:
            errors = refusal_messages(exc)
        else:
            target = url(f"/admin/lieux/{created.id}", territoire=territoire, cree=1)
            return RedirectResponse(target, 303)
    return await _form_page(request, session, visit, territoire, _shown(form, values), errors)


async def _site_values(session: AsyncSession, site: Site) -> dict[str, Any]:
    ids = (await sites.professional_ids_by_site(session, [site.id]))[site.id]
    values: dict[str, Any] = {c: getattr(site, c) for c in _FIELDS}
    values["accessible"] = site.accessible
    values["professional_rpps"] = "\n".join(await rpps_of(session, ids))
    return values


@router.get("/{site_id}")
async def edit_page(
    request: Request, session: SessionDep, visit: PageVisit, site_id: uuid.UUID, cree: int = 0
) -> Response:
    site = await sites.get_site(session, site_id)
    notice = "Lieu créé." if cree else None
    values = await _site_values(session, site)
    return await _form_page(request, session, visit, None, values, {}, site, notice)


@router.post("/{site_id}")
async def update(
    request: Request, session: SessionDep, visit: FormVisit, site_id: uuid.UUID
) -> Response:
    site = await sites.get_site(session, site_id)
    form = await request.form()
    values, errors = await _values(session, form)
    data, invalid = parse(SiteUpdate, values)
    errors = invalid | errors
    if data is not None and not errors:
        try:
            async with session.begin_nested():
                await sites.update_site(session, visit.actor, site_id, data)

        except AppError as exc:
            errors = refusal_messages(exc)
        else:
            site = await sites.get_site(session, site_id)
            values = await _site_values(session, site)
            return await _form_page(request, session, visit, None, values, {}, site, "Enregistré.")
    site = await sites.get_site(session, site_id)
    return await _form_page(request, session, visit, None, _shown(form, values), errors, site)


@router.post("/{site_id}/desactiver")
async def deactivate(session: SessionDep, visit: FormVisit, site_id: uuid.UUID) -> Response:
    await sites.deactivate_site(session, visit.actor, site_id)
    return RedirectResponse(f"/admin/lieux/{site_id}", 303)
