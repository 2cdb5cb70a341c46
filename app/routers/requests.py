import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from starlette.responses import Response

from app.core.auth import (
    PracticeSoftwareOrAdminDep,
    Principal,
    RegulatorDep,
    require_role,
)
from app.core.crypto import CipherDep
from app.core.db import SessionDep
from app.core.openapi import problems
from app.routers.idempotent import AuditedReplay, IdempotencyKey, idempotent
from app.schemas.en_sus_request import EnSusAccept, EnSusRequestCreate, EnSusRequestOut
from app.services.en_sus import service as en_sus
from app.services.search.window import resolve_window

router = APIRouter(prefix="/v1/requests", tags=["en sus"])

ReaderDep = Annotated[Principal, Depends(require_role("regulator", "practice_software", "admin"))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EnSusRequestOut)
async def create_request(
    request: Request,
    body: EnSusRequestCreate,
    session: SessionDep,
    regulator: RegulatorDep,
    cipher: CipherDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Ask the territory's professionals who accept patients beyond their slots (en sus)."""

    async def produce() -> EnSusRequestOut:
        # The searches' window rule: a request asks for no window a search would refuse.
        resolve_window(body.window, datetime.now(UTC), [])
        ttl = request.app.state.settings.en_sus_request_ttl_seconds
        return await en_sus.create_request(session, regulator, cipher, body, ttl)

    # The answer holds the reason (patient data): its replays are audited as reads.
    return await idempotent(
        request,
        session,
        regulator,
        idempotency_key,
        body,
        status.HTTP_201_CREATED,
        produce,
        audited_replay=AuditedReplay("en_sus_request", "request.read"),
    )


@router.get("/{request_id}")
async def read_request(
    request_id: uuid.UUID, session: SessionDep, principal: ReaderDep, cipher: CipherDep
) -> EnSusRequestOut:
    """An en-sus request; its patient fields only for the requesting regulator and, once accepted,
    the accepting practice, until it expires (`services/en_sus/access`)."""
    return await en_sus.read_request(session, principal, cipher, request_id)


@router.post("/{request_id}/accept", responses=problems(409))
async def accept_request(
    request_id: uuid.UUID,
    body: EnSusAccept,
    session: SessionDep,
    principal: PracticeSoftwareOrAdminDep,
    cipher: CipherDep,
) -> EnSusRequestOut:
    """Take the patient for one of your professionals: the first accept wins, later ones 409."""
    return await en_sus.accept_request(session, principal, cipher, request_id, body)
