import uuid

from fastapi import APIRouter, Query, Response, status

from app.core.auth import AdminDep
from app.core.db import SessionDep
from app.core.openapi import problems
from app.routers.params import Cursor, Limit
from app.schemas.common import Page
from app.schemas.identifiers import Rpps
from app.schemas.professional import ProfessionalCreate, ProfessionalOut, ProfessionalUpdate
from app.services.directory import professionals

router = APIRouter(prefix="/v1/professionals", tags=["professionals"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=problems(409))
async def create_professional(
    body: ProfessionalCreate, session: SessionDep, admin: AdminDep
) -> ProfessionalOut:
    professional = await professionals.create_professional(session, admin, body)
    return ProfessionalOut.model_validate(professional)


@router.get("")
async def list_professionals(
    session: SessionDep,
    admin: AdminDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    rpps: Rpps | None = Query(default=None),
    active: bool | None = None,
) -> Page[ProfessionalOut]:
    items, next_cursor = await professionals.list_professionals(
        session, cursor, limit, rpps=rpps, active=active
    )
    return Page(items=[ProfessionalOut.model_validate(p) for p in items], next_cursor=next_cursor)


@router.get("/{professional_id}")
async def get_professional(
    professional_id: uuid.UUID, session: SessionDep, admin: AdminDep
) -> ProfessionalOut:
    return ProfessionalOut.model_validate(
        await professionals.get_professional(session, professional_id)
    )


@router.patch("/{professional_id}")
async def update_professional(
    professional_id: uuid.UUID, body: ProfessionalUpdate, session: SessionDep, admin: AdminDep
) -> ProfessionalOut:
    professional = await professionals.update_professional(session, admin, professional_id, body)
    return ProfessionalOut.model_validate(professional)


@router.delete("/{professional_id}", status_code=status.HTTP_204_NO_CONTENT)
async def deactivate_professional(
    professional_id: uuid.UUID, session: SessionDep, admin: AdminDep
) -> Response:
    await professionals.deactivate_professional(session, admin, professional_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
