import base64
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app.core.auth import PracticeSoftwareDep, Principal, RegulatorDep, require_role
from app.core.crypto import CipherDep, PatientCipher
from app.core.db import SessionDep
from app.core.errors import IdempotencyKeyMissing
from app.routers.idempotent import IdempotencyKey, idempotent
from app.schemas.booking import BookingCreate, BookingOut, BookingStatusUpdate
from app.services import bookings, idempotency

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])


def _sealed_answer(cipher: PatientCipher, client_id: uuid.UUID, key: str, body: Any) -> Any:
    sealed = cipher.seal_json(body, f"idempotency:{client_id}:{key}")
    return {"sealed": base64.b64encode(sealed).decode()}


def _opened_answer(cipher: PatientCipher, client_id: uuid.UUID, key: str, stored: Any) -> Any:
    return cipher.open_json(base64.b64decode(stored["sealed"]), f"idempotency:{client_id}:{key}")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BookingOut)
async def book_hold(
    request: Request,
    body: BookingCreate,
    session: SessionDep,
    regulator: RegulatorDep,
    cipher: CipherDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Confirm your live hold with the patient minimum. `Idempotency-Key` is required.

    Same key and body: the first answer again. The remembered answer holds patient data, so it
    is stored sealed, and the body is compared by a keyed digest, not a plain hash.
    """
    if idempotency_key is None:
        raise IdempotencyKeyMissing(
            "POST /v1/bookings requires an Idempotency-Key header (a UUID per intended booking)",
            location="Idempotency-Key",
        )
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    replay = await idempotency.claim(
        session,
        regulator.client_id,
        idempotency_key,
        request.method,
        request.url.path,
        cipher.fingerprint(canonical),
    )
    if replay is not None:
        return JSONResponse(
            _opened_answer(cipher, regulator.client_id, idempotency_key, replay.body),
            status_code=replay.status_code,
            headers={"Idempotent-Replayed": "true"},
        )
    booking = await bookings.book_hold(session, regulator, cipher, body, idempotency_key)
    content = jsonable_encoder(booking)
    await idempotency.remember(
        session,
        regulator.client_id,
        idempotency_key,
        status.HTTP_201_CREATED,
        _sealed_answer(cipher, regulator.client_id, idempotency_key, content),
    )
    return JSONResponse(content, status_code=status.HTTP_201_CREATED)


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


@router.post("/{booking_id}/cancel", response_model=BookingOut)
async def cancel_booking(
    request: Request,
    booking_id: uuid.UUID,
    session: SessionDep,
    regulator: RegulatorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Cancel your booking; the slot is free again."""

    async def produce() -> BookingOut:
        return await bookings.cancel_booking(session, regulator, booking_id)

    return await idempotent(
        request, session, regulator, idempotency_key, None, status.HTTP_200_OK, produce
    )


@router.patch("/{booking_id}", response_model=BookingOut)
async def report_status(
    request: Request,
    booking_id: uuid.UUID,
    body: BookingStatusUpdate,
    session: SessionDep,
    practice: PracticeSoftwareDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Report what happened to a booking of your slot: fulfilled, noshow or cancelled."""

    async def produce() -> BookingOut:
        return await bookings.report_status(session, practice, booking_id, body.status)

    return await idempotent(
        request, session, practice, idempotency_key, body, status.HTTP_200_OK, produce
    )
