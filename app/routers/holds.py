import uuid

from fastapi import APIRouter, Request, Response, status

from app.core.auth import RegulatorDep
from app.core.db import SessionDep
from app.core.openapi import problems
from app.routers.idempotent import IdempotencyKey, idempotent
from app.schemas.hold import HoldCreate, HoldOut
from app.services.holds import lifecycle as holds

router = APIRouter(prefix="/v1/holds", tags=["holds"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=HoldOut,
    responses={
        200: {"model": HoldOut, "description": "the regulator's live hold, renewed"},
        **problems(404, 409),
    },
)
async def hold_slot(
    request: Request,
    body: HoldCreate,
    session: SessionDep,
    regulator: RegulatorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Hold a free slot for `ttl_seconds` (201), or renew your live hold on it (200)."""

    async def produce() -> HoldOut:
        return await holds.hold_slot(session, regulator, body)

    def status_of(hold: HoldOut) -> int:
        return status.HTTP_200_OK if hold.renewed else status.HTTP_201_CREATED

    return await idempotent(request, session, regulator, idempotency_key, body, status_of, produce)


@router.delete("/{hold_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(409))
async def release_hold(
    hold_id: uuid.UUID, session: SessionDep, regulator: RegulatorDep
) -> Response:
    """Release your hold; the slot is free again at once."""
    await holds.release_hold(session, regulator, hold_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
