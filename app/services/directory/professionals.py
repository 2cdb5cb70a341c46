"""Professionals (effecteurs), identified nationally by RPPS (admin)."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.constraints import add_unique
from app.core.errors import NotFound
from app.core.pagination import keyset, page
from app.models import Professional
from app.schemas.professional import ProfessionalCreate, ProfessionalUpdate
from app.services.audit import record as audit


async def create_professional(
    session: AsyncSession, actor: Principal | None, data: ProfessionalCreate
) -> Professional:
    """Create a professional; the RPPS is unique."""
    professional = Professional(**data.model_dump())
    await add_unique(
        session, professional, f"a professional with RPPS {data.rpps} already exists", "body.rpps"
    )
    await session.refresh(professional)
    await audit.record(session, actor, "professional.create", "professional", professional.id)
    return professional


async def get_professional(session: AsyncSession, professional_id: uuid.UUID) -> Professional:
    professional = await session.get(Professional, professional_id)
    if professional is None:
        raise NotFound(f"no professional {professional_id}")
    return professional


async def list_professionals(
    session: AsyncSession,
    cursor: str | None,
    limit: int,
    rpps: str | None = None,
    active: bool | None = None,
) -> tuple[list[Professional], str | None]:
    query = select(Professional)
    if rpps is not None:
        query = query.where(Professional.rpps == rpps)
    if active is not None:
        query = query.where(Professional.active.is_(active))
    rows = (
        await session.scalars(
            keyset(query, Professional.created_at, Professional.id, cursor, limit)
        )
    ).all()
    return page(rows, limit)


async def update_professional(
    session: AsyncSession,
    actor: Principal | None,
    professional_id: uuid.UUID,
    data: ProfessionalUpdate,
) -> Professional:
    professional = await get_professional(session, professional_id)
    changes = data.changes()
    for name, value in changes.items():
        setattr(professional, name, value)
    await session.flush()
    await session.refresh(professional)
    await audit.record(
        session,
        actor,
        "professional.update",
        "professional",
        professional.id,
        detail={"fields": sorted(changes)},
    )
    return professional


async def deactivate_professional(
    session: AsyncSession, actor: Principal | None, professional_id: uuid.UUID
) -> None:
    """Deactivate rather than delete: slots and bookings keep pointing to the professional."""
    professional = await get_professional(session, professional_id)
    professional.active = False
    await session.flush()
    await audit.record(session, actor, "professional.deactivate", "professional", professional.id)
