"""Bookings: a live hold confirmed with the patient minimum; cancel; practice status reports.

The hold and its booking are one `bookings` row (held → booked → fulfilled | noshow |
cancelled). The patient minimum and the reason are sealed together (AES-GCM, bound to the row
id) in `bookings.patient`; audit details and events carry ids and statuses only.
Every write locks the slot row before the bookings row, like the hold paths (no deadlock).
"""

import uuid
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.crypto import PatientCipher
from app.core.errors import Conflict, NotFound
from app.schemas.booking import BookingCreate, BookingOut, Patient, ReportedStatus
from app.services.audit import record as audit
from app.services.bookings import sql
from app.services.holds.errors import HoldNotLive, hold_not_live

# A booking that lost a race to a renewal of its hold is tried again, this many times at most.
_BOOK_ATTEMPTS = 3


def patient_context(booking_id: uuid.UUID) -> str:
    """What a booking's sealed patient minimum is bound to (`core.crypto` associated data)."""
    return f"bookings.patient:{booking_id}"


def _out(
    row: Row[Any],
    patient: Patient | None = None,
    reason: str | None = None,
    medecin_traitant_rpps: str | None = None,
) -> BookingOut:
    return BookingOut(
        id=row.id,
        hold_id=row.id,
        slot_id=row.slot_id,
        external_id=row.external_id,
        status=row.status,
        start=row.start_at,
        end=row.end_at,
        modality=row.modality,
        professional_id=row.professional_id,
        site_id=row.site_id,
        booked_at=row.booked_at,
        updated_at=row.updated_at,
        patient=patient,
        reason=reason,
        medecin_traitant_rpps=medecin_traitant_rpps,
    )


async def _read(session: AsyncSession, booking_id: uuid.UUID) -> Row[Any] | None:
    return (await session.execute(sql.READ, {"booking_id": booking_id})).one_or_none()


def _owned_by(row: Row[Any] | None, principal: Principal) -> bool:
    if row is None:
        return False
    if principal.role == "regulator":
        return bool(row.regulator_client_id == principal.client_id)
    return bool(
        principal.role == "practice_software" and row.source_client_id == principal.client_id
    )


async def _hold_refusal(
    session: AsyncSession, principal: Principal, hold_id: uuid.UUID
) -> Exception | None:
    """Why the hold was not booked, read afresh; None when it is live (it lost a race: retry)."""
    row = await _read(session, hold_id)
    if row is None or not _owned_by(row, principal):
        return NotFound(f"no hold {hold_id} of yours", location="body.hold_id")
    if row.status == "held" and row.live:  # a renewal moved its expiry while the booking waited
        return None
    return hold_not_live(row.status, row.expires_at, location="body.hold_id")


async def book_hold(
    session: AsyncSession,
    principal: Principal,
    cipher: PatientCipher,
    data: BookingCreate,
    idempotency_key: str | None,
) -> BookingOut:
    """Turn the regulator's live hold into a booking with the sealed patient minimum.

    Rule: only a hold of this regulator that has not expired (at the statement's time); a
    hold that lapses while the booking arrives is a 409 and the slot is not booked; a booking
    that waited behind a renewal of its hold is decided again on a fresh snapshot.
    """
    sealed = cipher.seal_json(
        {
            "patient": data.patient.model_dump(mode="json"),
            "reason": data.reason,
            "medecin_traitant_rpps": data.medecin_traitant_rpps,
        },
        patient_context(data.hold_id),
    )
    params = {
        "hold_id": data.hold_id,
        "patient": sealed,
        "mt_rpps": data.medecin_traitant_rpps,
        "key": idempotency_key,
        **audit.actor_params(principal),
    }
    for _ in range(_BOOK_ATTEMPTS):
        try:
            row = (await session.execute(sql.BOOK, params)).one_or_none()
        except IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) == "23505":
                raise Conflict(
                    "this Idempotency-Key already booked another hold", location="Idempotency-Key"
                ) from None
            raise
        if row is not None:
            break
        refusal = await _hold_refusal(session, principal, data.hold_id)
        if refusal is not None:
            raise refusal
    else:
        raise Conflict("the hold kept changing while it was booked; retry", location="body.hold_id")
    if row.id is None:  # the hold lapsed and the slot was taken meanwhile: refuse, roll back
        raise HoldNotLive("the hold expired while the booking arrived", location="body.hold_id")
    return _out(row, data.patient, data.reason, data.medecin_traitant_rpps)


async def _transition(
    session: AsyncSession,
    principal: Principal,
    booking_id: uuid.UUID,
    to_status: str,
    slot_status: str | None,
) -> BookingOut:
    action = "booking.cancel" if to_status == "cancelled" else "booking.report"
    params = {
        "booking_id": booking_id,
        "who": "regulator" if principal.role == "regulator" else "practice",
        "from_status": "booked",
        "to_status": to_status,
        "slot_status": slot_status,
        "action": action,
        **audit.actor_params(principal),
    }
    row = (await session.execute(sql.TRANSITION, params)).one_or_none()
    if row is not None and row.id is None:  # never seen: every writer locks the slot first
        raise Conflict("the booking changed while this request ran; retry", location="path")
    if row is not None:
        return _out(row)
    current = await _read(session, booking_id)
    if current is None or not _owned_by(current, principal):
        raise NotFound(f"no booking {booking_id} of yours", location="path.booking_id")
    if current.status != to_status:
        raise Conflict(
            f"the booking is {current.status}; only a booked one can become {to_status}",
            location="path.booking_id",
            booking_status=current.status,
        )
    # Already in that status: the same answer, nothing written but the audit of this read.
    await audit.record(
        session,
        principal,
        action,
        "booking",
        booking_id,
        territory_id=current.territory_id,
        detail={"status": to_status, "slot_id": str(current.slot_id), "unchanged": True},
    )
    return _out(current)


async def cancel_booking(
    session: AsyncSession, principal: Principal, booking_id: uuid.UUID
) -> BookingOut:
    """The regulator cancels its booking: the slot is free again.

    Rule: only a `booked` booking of this regulator; cancelling twice answers the same booking.
    """
    return await _transition(session, principal, booking_id, "cancelled", "free")


async def report_status(
    session: AsyncSession, principal: Principal, booking_id: uuid.UUID, status: ReportedStatus
) -> BookingOut:
    """The practice software owning the slot reports the outcome of a booking.

    Rule: only from `booked`. `cancelled` by the practice cancels the slot too (the professional
    will not see a patient then; the practice reopens the time with a push if it wishes);
    `fulfilled` and `noshow` leave the slot booked.
    """
    slot_status = "cancelled" if status == "cancelled" else None
    return await _transition(session, principal, booking_id, status, slot_status)


async def read_booking(
    session: AsyncSession, principal: Principal, cipher: PatientCipher, booking_id: uuid.UUID
) -> BookingOut:
    """One booking with its patient minimum, for the regulator who made it or the slot's practice.

    Rule: every read is audited (who, which booking; no patient data).
    """
    row = await _read(session, booking_id)
    if row is None or not _owned_by(row, principal):
        raise NotFound(f"no booking {booking_id} of yours", location="path.booking_id")
    patient: Patient | None = None
    reason: str | None = None
    medecin_traitant_rpps: str | None = None
    if row.patient is not None:
        opened = cipher.open_json(row.patient, patient_context(row.id))
        patient = Patient.model_validate(opened["patient"])
        reason = opened.get("reason")
        medecin_traitant_rpps = opened.get("medecin_traitant_rpps")
    await audit.record(
        session,
        principal,
        "booking.read",
        "booking",
        booking_id,
        territory_id=row.territory_id,
        detail={"status": row.status},
    )
    return _out(row, patient, reason, medecin_traitant_rpps)
