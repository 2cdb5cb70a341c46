import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from starlette.responses import Response

from app.core.auth import PracticeSoftwareDep, Principal, RegulatorDep, require_role
from app.core.crypto import CipherDep
from app.core.db import SessionDep
from app.core.metrics import count_booking
from app.core.openapi import problems
from app.routers.idempotent import AuditedReplay, IdempotencyKey, idempotent, replayed
from app.schemas.booking import BookingCreate, BookingOut, BookingStatusUpdate
from app.services.bookings import service as bookings

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingOut,
    responses=problems(400, 404, 409),
    openapi_extra={"x-idempotency-key": "required"},
)
async def book_hold(
    request: Request,
    body: BookingCreate,
    session: SessionDep,
    regulator: RegulatorDep,
    cipher: CipherDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Confirm your live hold with the patient minimum. `Idempotency-Key` is required: the same
    key and body answer the first booking again (the replay is audited as a read)."""

    async def produce() -> BookingOut:
        return await bookings.book_hold(session, regulator, cipher, body, idempotency_key)

    return await idempotent(
        request,
        session,
        regulator,
        idempotency_key,
        body,
        status.HTTP_201_CREATED,
        produce,
        required=True,
        audited_replay=AuditedReplay("booking", "booking.read"),
    )


@router.get("/{booking_id}")
async def read_booking(
    booking_id: uuid.UUID,
    session: SessionDep,
    cipher: CipherDep,
    principal: Annotated[Principal, Depends(require_role("regulator", "practice_software"))],
) -> BookingOut:
    """A booking with its patient minimum: for the regulator who booked it and the practice
    software that owns the slot. Every read is audited."""
    return await bookings.read_booking(session, principal, cipher, booking_id)


@router.post("/{booking_id}/cancel", response_model=BookingOut, responses=problems(409))
async def cancel_booking(
    request: Request,
    booking_id: uuid.UUID,
    session: SessionDep,
    regulator: RegulatorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Cancel your booking; the slot is free again."""

    async def produce() -> BookingOut:
        return await bookings.cancel_booking(session, regulator, booking_id)

    return await idempotent(
        request, session, regulator, idempotency_key, None, status.HTTP_200_OK, produce
    )


@router.patch("/{booking_id}", response_model=BookingOut, responses=problems(409))
async def report_status(
    request: Request,
    booking_id: uuid.UUID,
    body: BookingStatusUpdate,
    session: SessionDep,
    practice: PracticeSoftwareDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Report what happened to a booking of your slot: fulfilled, noshow or cancelled."""

    async def produce() -> BookingOut:
        return await bookings.report_status(session, practice, booking_id, body.status)

    response = await idempotent(
        request, session, practice, idempotency_key, body, status.HTTP_200_OK, produce
    )
    if not replayed(response):
        count_booking(body.status)
    return response
