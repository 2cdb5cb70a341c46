"""RPPS numbers typed in a form, turned into the professional ids the services take."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Professional


async def professional_ids(
    session: AsyncSession, rpps_numbers: Sequence[str]
) -> tuple[list[uuid.UUID], str | None]:
    """The ids of these RPPS numbers, or the French message naming the unknown ones."""
    if not rpps_numbers:
        return [], None
    rows = await session.execute(
        select(Professional.rpps, Professional.id).where(Professional.rpps.in_(list(rpps_numbers)))
    )
    found = {rpps: professional_id for rpps, professional_id in rows}
    unknown = [r for r in rpps_numbers if r not in found]
    if unknown:
        return [], "RPPS inconnu(s) : " + ", ".join(unknown[:10])
    return [found[r] for r in rpps_numbers], None


async def rpps_of(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[str]:
    """The RPPS numbers of these professionals, to show them back in a form."""
    if not ids:
        return []
    rows = await session.scalars(
        select(Professional.rpps).where(Professional.id.in_(list(ids))).order_by(Professional.rpps)
    )
    return list(rows)
