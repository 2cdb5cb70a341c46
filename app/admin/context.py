"""What every page shows around its content: the territory being looked at.

A CPTS deployment has one territory or a few, offered in a menu; a database with more (the
national bench has 832) offers a link to the paged list of territories instead, so that no page
renders hundreds of options.
"""

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Territory

MENU_LIMIT = 20


@dataclass(frozen=True)
class TerritoryView:
    id: uuid.UUID
    name: str
    timezone: str


def _view(row: Territory) -> TerritoryView:
    return TerritoryView(row.id, row.name, row.timezone)


async def territory_context(
    session: AsyncSession, requested: str | None
) -> tuple[TerritoryView | None, list[TerritoryView]]:
    """The requested territory (`?territoire=`), else the first active one by name; and the
    territories of the menu (empty when there are more than `MENU_LIMIT`)."""
    first = (
        await session.scalars(
            select(Territory)
            .order_by(Territory.active.desc(), Territory.name, Territory.id)
            .limit(MENU_LIMIT + 1)
        )
    ).all()
    menu = [_view(t) for t in first] if len(first) <= MENU_LIMIT else []
    chosen = None
    if requested:
        try:
            found = await session.get(Territory, uuid.UUID(requested))
        except ValueError:
            found = None
        chosen = _view(found) if found else None
    if chosen is None and first:
        chosen = _view(first[0])
    return chosen, menu


def url(path: str, **params: object) -> str:
    """`path` with the query parameters that are set."""
    query = urlencode({k: str(v) for k, v in params.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path
