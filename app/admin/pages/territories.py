"""Territoires: the paged list to choose the territory the other pages look at."""

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from app.admin.context import territory_context, url
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import PageVisit
from app.core.db import SessionDep
from app.core.errors import AppError
from app.core.pagination import keyset
from app.core.pagination import page as cut_page
from app.models import Territory

router = APIRouter(prefix="/territoires", route_class=AdminRoute)
PAGE_SIZE = 50


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
    query = select(Territory)
    if q:
        like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Territory.name.ilike(like) | (Territory.departement == q.upper()))
    try:
        rows = (
            await session.scalars(
                keyset(query, Territory.created_at, Territory.id, cursor, PAGE_SIZE)
            )
        ).all()
    except AppError:
        rows = (
            await session.scalars(
                keyset(query, Territory.created_at, Territory.id, None, PAGE_SIZE)
            )
        ).all()
    items, next_cursor = cut_page(rows, PAGE_SIZE)
    return page(
        request,
        "territories.html",
        visit,
        section="territories",
        territory=territory,
        territories=territories,
        items=items,
        q=q,
        next_url=next_cursor and url("/admin/territoires", q=q, cursor=next_cursor),
    )
