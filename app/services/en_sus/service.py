"""En-sus requests: when nothing is free, the professionals of the territory who accept patients
beyond their published slots are asked; the first who accepts gets the patient.

Rules (issue 4):
- Territory: among the regulator's territories, the one whose active site is nearest to the
  patient (its "catchment"); with no active site in any of them, the first by id.
- Asked: the active professionals working at an active site of that territory who accept en
  sus, matching the specialty, languages and accessibility asked for, nearest first (by their
  nearest site of the territory), at most MAX_ASKED. Their practice software clients are told.
- First accept wins: one conditional UPDATE … WHERE status = 'open' AND expires_at > now();
  later accepts are 409.
- A request is open for REQUEST_TTL_SECONDS; an open request past its expiry reads as expired
  and is swept to `expired` by the background loop (`en_sus.expiry`).
- The reason and the search criteria (the patient's location, their médecin traitant) are
  sealed together (patient data); only the list of professionals asked is kept in clear.
"""

import uuid
from typing import Any

import orjson
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.crypto import PatientCipher
from app.core.errors import InvalidInput, NotFound
from app.schemas.en_sus_request import (
    EnSusAccept,
    EnSusProfessional,
    EnSusRequestCreate,
    EnSusRequestOut,
)
from app.schemas.search import SiteBrief
from app.services.audit import record as audit
from app.services.en_sus import sql
from app.services.en_sus.errors import RequestNotOpen
from app.services.search.location import patient_location

REQUEST_TTL_SECONDS = 30 * 60
MAX_ASKED = 50


def _context(request_id: uuid.UUID) -> str:
    return f"en_sus_requests.reason:{request_id}"


def _asked_ids(row: Row[Any]) -> list[uuid.UUID]:
    return [uuid.UUID(p["id"]) for p in row.criteria.get("professionals", [])]


def _out(row: Row[Any], sealed: dict[str, Any], asked: list[EnSusProfessional]) -> EnSusRequestOut:
    return EnSusRequestOut(
        id=row.id,
        status="expired" if row.lapsed else row.status,
        territory_id=row.territory_id,
        expires_at=row.expires_at,
        created_at=row.created_at,
        accepted_by_professional_id=row.accepted_by_professional_id,
        accepted_at=row.accepted_at,
        criteria=sealed.get("search", {}),
        reason=sealed.get("reason"),
        professionals=asked,
    )


def _opened(row: Row[Any], cipher: PatientCipher) -> EnSusRequestOut:
    sealed = cipher.open_json(row.reason, _context(row.id)) if row.reason is not None else {}
    asked = [EnSusProfessional.model_validate(p) for p in row.criteria["professionals"]]
    return _out(row, sealed, asked)


async def _territory(
    session: AsyncSession, principal: Principal, lat: float, lon: float
) -> uuid.UUID:
    territories = sorted(principal.territory_ids)
    if not territories:
        raise InvalidInput("this regulator works in no territory", location="body.location")
    nearest = await session.scalar(
        sql.NEAREST_TERRITORY, {"territories": territories, "lat": lat, "lon": lon}
    )
    return nearest or territories[0]


async def create_request(
    session: AsyncSession,
    principal: Principal,
    cipher: PatientCipher,
    data: EnSusRequestCreate,
    ttl_seconds: int = REQUEST_TTL_SECONDS,
) -> EnSusRequestOut:
    """Open an en-sus request to the territory's professionals who accept en sus (module doc)."""
    lat, lon = await patient_location(session, data.location)
    territory_id = await _territory(session, principal, lat, lon)
    rows = await session.execute(
        sql.ASKED,
        {
            "territory": territory_id,
            "lat": lat,
            "lon": lon,
            "specialty": data.specialty,
            "languages": data.languages,
            "accessible": bool(data.accessible),
            "max_asked": MAX_ASKED,
        },
    )
    asked = [
        EnSusProfessional(
            id=r.id,
            rpps=r.rpps,
            family_name=r.family_name,
            given_name=r.given_name,
            distance_km=round(float(r.distance_m) / 1000, 3),
            site=SiteBrief(id=r.site_id, name=r.site_name, address=r.address, postcode=r.postcode),
        )
        for r in rows
    ]
    request_id = uuid.uuid4()
    criteria = {"professionals": [p.model_dump(mode="json") for p in asked]}
    sealed = {
        "reason": data.reason,
        "search": data.model_dump(mode="json", exclude={"reason"}, exclude_none=True),
    }
    row = (
        await session.execute(
            sql.CREATE,
            {
                "id": request_id,
                "territory": territory_id,
                "regulator": principal.client_id,
                "criteria": orjson.dumps(criteria).decode(),
                "reason": cipher.seal_json(sealed, _context(request_id)),
                "ttl": ttl_seconds,
                "professional_ids": [p.id for p in asked],
                "asked_count": len(asked),
                **audit.actor_params(principal),
            },
        )
    ).one()
    return _out(row, sealed, asked)


def _visible_to(row: Row[Any], principal: Principal) -> bool:
    if principal.role == "admin":
        return True
    if principal.role == "regulator":
        return bool(row.territory_id in principal.territory_ids)
    if principal.role == "practice_software":
        return not principal.professional_ids.isdisjoint(_asked_ids(row))
    return False


async def _visible(session: AsyncSession, principal: Principal, request_id: uuid.UUID) -> Row[Any]:
    row = (await session.execute(sql.READ, {"id": request_id})).one_or_none()
    if row is None or not _visible_to(row, principal):
        raise NotFound(f"no en-sus request {request_id}", location="path.request_id")
    return row


async def read_request(
    session: AsyncSession, principal: Principal, cipher: PatientCipher, request_id: uuid.UUID
) -> EnSusRequestOut:
    """An en-sus request: for the regulators of its territory and the practices asked.

    Rule: the reason is patient data, so every read is audited.
    """
    row = await _visible(session, principal, request_id)
    await audit.record(
        session,
        principal,
        "request.read",
        "en_sus_request",
        request_id,
        territory_id=row.territory_id,
    )
    return _opened(row, cipher)


async def accept_request(
    session: AsyncSession,
    principal: Principal,
    cipher: PatientCipher,
    request_id: uuid.UUID,
    data: EnSusAccept,
) -> EnSusRequestOut:
    """A professional who was asked takes the patient.

    Rule: the first accept wins (one conditional UPDATE); later ones, and accepts after the
    expiry, are 409. A practice software accepts only for its own professionals (403).
    """
    row = await _visible(session, principal, request_id)
    principal.require_professional(data.professional_id)
    asked = _asked_ids(row)
    if data.professional_id not in asked:
        raise InvalidInput(
            "this professional was not asked by this request", location="body.professional_id"
        )
    accepted = (
        await session.execute(
            sql.ACCEPT,
            {
                "id": request_id,
                "professional_id": data.professional_id,
                "professional_ids": asked,
                **audit.actor_params(principal),
            },
        )
    ).one_or_none()
    if accepted is None:
        current = (await session.execute(sql.READ, {"id": request_id})).one()
        status = "expired" if current.lapsed else current.status
        raise RequestNotOpen(
            f"this request is {status}; it can no longer be accepted",
            location="path.request_id",
            request_status=status,
        )
    return _opened(accepted, cipher)
