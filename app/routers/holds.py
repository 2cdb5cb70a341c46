import uuid

from fastapi import APIRouter, Request, Response, status

from app.core.auth import RegulatorDep
from app.core.crypto import CipherDep
from app.core.db import SessionDep
from app.core.openapi import problems
from app.routers.idempotent import IdempotencyKey, idempotent
from app.schemas.hold import HoldCreate, HoldOut, HoldRenew
from app.services.holds import lifecycle as holds
from app.services.holds import renew

router = APIRouter(prefix="/v1/holds", tags=["holds"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=HoldOut,
    responses=problems(404, 409),
)
async def hold_slot(
    request: Request,
    body: HoldCreate,
    session: SessionDep,
    regulator: RegulatorDep,
    cipher: CipherDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Hold a free slot for `ttl_seconds`; a held slot is a 409, even held by your client.

    Quote the `search_id` of the search that found the slot: the indicators count the delay
    from that search to the consultation, and the distance to the slot's site."""

    async def produce() -> HoldOut:
        return await holds.hold_slot(session, regulator, body, cipher)

    return await idempotent(
        request, session, regulator, idempotency_key, body, status.HTTP_201_CREATED, produce
    )


@router.post("/{hold_id}/renew", response_model=HoldOut, responses=problems(404, 409))
async def renew_hold(
    hold_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    regulator: RegulatorDep,
    body: HoldRenew | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Your live hold now expires `ttl_seconds` from now, at most `HOLD_MAX_LIFETIME_SECONDS`
    after it was taken."""
    data = body or HoldRenew()
    max_life = request.app.state.settings.hold_max_lifetime_seconds

    async def produce() -> HoldOut:
        return await renew.renew_hold(
            session, regulator, hold_id, data, max_lifetime_seconds=max_life
        )

    return await idempotent(
        request, session, regulator, idempotency_key, data, status.HTTP_200_OK, produce
    )


@router.delete("/{hold_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(409))
async def release_hold(
    hold_id: uuid.UUID, session: SessionDep, regulator: RegulatorDep
) -> Response:
    """Release your hold; the slot is free again at once."""
    await holds.release_hold(session, regulator, hold_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
