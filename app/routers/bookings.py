import base64
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import PracticeSoftwareDep, Principal, RegulatorDep, require_role
from app.core.crypto import CipherDep, PatientCipher
from app.core.db import SessionDep
from app.core.errors import IdempotencyKeyMissing
from app.routers.idempotent import IdempotencyKey, idempotent
from app.schemas.booking import BookingCreate, BookingOut, BookingStatusUpdate
from app.services import bookings, idempotency

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])


def _sealed(cipher: PatientCipher, client_id: uuid.UUID, key: str, body: Any) -> Any:
    sealed = cipher.seal_json(body, f"idempotency:{client_id}:{key}")
    return {"sealed": base64.b64encode(sealed).decode()}


def _opened(cipher: PatientCipher, client_id: uuid.UUID, key: str, stored: Any) -> Any:
    return cipher.open_json(base64.b64decode(stored["sealed"]), f"idempotency:{client_id}:{key}")


async def sealed_idempotent(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    cipher: PatientCipher,
    key: str | None,
    body: BaseModel,
    status_code: int,
    produce: Callable[[], Awaitable[Any]],
) -> JSONResponse:
    """`idempotent(...)` for answers that hold patient data: the remembered answer is sealed,
    and the body is compared by a keyed digest (a plain hash of a patient's name and birth date
    could be reversed by trying them). Without a key, the write just runs."""
    if key is None:
        return JSONResponse(jsonable_encoder(await produce()), status_code=status_code)
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    replay = await idempotency.claim(
        session,
        principal.client_id,
        key,
        request.method,
        request.url.path,
        cipher.fingerprint(canonical),
    )
    if replay is not None:
        return JSONResponse(
            _opened(cipher, principal.client_id, key, replay.body),
            status_code=replay.status_code,
            headers={"Idempotent-Replayed": "true"},
        )
    content = jsonable_encoder(await produce())
    await idempotency.remember(
        session,
        principal.client_id,
        key,
        status_code,
        _sealed(cipher, principal.client_id, key, content),
    )
    return JSONResponse(content, status_code=status_code)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BookingOut)
async def book_hold(
    request: Request,
    body: BookingCreate,
    session: SessionDep,
    regulator: RegulatorDep,
    cipher: CipherDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Confirm your live hold with the patient minimum. `Idempotency-Key` is required: the same
    key and body answer the first booking again."""
    if idempotency_key is None:
        raise IdempotencyKeyMissing(
            "POST /v1/bookings requires an Idempotency-Key header (a UUID per intended booking)",
            location="Idempotency-Key",
        )

    async def produce() -> BookingOut:
        return await bookings.book_hold(session, regulator, cipher, body, idempotency_key)

    return await sealed_idempotent(
        request,
        session,
        regulator,
        cipher,
        idempotency_key,
        body,
        status.HTTP_201_CREATED,
        produce,
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
