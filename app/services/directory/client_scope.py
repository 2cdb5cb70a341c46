"""What a practice-software client may be given: professionals of its own territories only.

Rule: each professional of the client works at a site (active or not) of one of the
territories the client is given; otherwise the create is a 422 at `body.professional_ids`
naming them. The client could not act for the others anyway (its scope is its territories).
"""

import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidInput

_OUTSIDE = text(
    """
    SELECT p.id FROM unnest(CAST(:professional_ids AS uuid[])) AS p(id)
    WHERE NOT EXISTS (
        SELECT 1 FROM site_professionals sp JOIN sites s ON s.id = sp.site_id
        WHERE sp.professional_id = p.id AND s.territory_id = ANY(CAST(:territory_ids AS uuid[]))
    )
    """
)


async def check_professionals_in_territories(
    session: AsyncSession,
    professional_ids: Sequence[uuid.UUID],
    territory_ids: Sequence[uuid.UUID],
) -> None:
    """422 unless every professional works at a site of one of `territory_ids`."""
    if not professional_ids:
        return
    outside = (
        await session.scalars(
            _OUTSIDE,
            {"professional_ids": list(professional_ids), "territory_ids": list(territory_ids)},
        )
    ).all()
    if outside:
        shown = ", ".join(str(i) for i in outside[:10])
        more = f" (and {len(outside) - 10} more)" if len(outside) > 10 else ""
        raise InvalidInput(
            f"professional(s) {shown}{more} work at no site of the client's territories; "
            "give the client their territory (territory_ids) or leave them out",
            location="body.professional_ids",
        )
