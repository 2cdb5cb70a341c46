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
- The reason, the search criteria (the patient's location, their médecin traitant) and the
  professionals' distances and nearest sites (which give the location back by trilateration)
  are sealed together (patient data). Only who was asked is kept in clear, by id (an order
  nearest first would give the location back too), to tell their practices.
- Who reads the patient fields: `en_sus.access` (one rule for every read path).
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
from app.services.en_sus.access import Access, access_of, asked_ids
from app.services.en_sus.errors import RequestNotOpen
from app.services.search.location import patient_location

REQUEST_TTL_SECONDS = 30 * 60
MAX_ASKED = 50


def _context(request_id: uuid.UUID) -> str:
    return f"en_sus_requests.reason:{request_id}"


def _professionals(row: Row[Any], sealed: dict[str, Any] | None) -> list[EnSusProfessional]:
    """Who was asked: nearest first with distances and sites for a reader of the patient fields
    (`sealed`), else by id. Requests sealed before issue 9 kept no distances: by id too."""
    clear = {p["id"]: p for p in row.criteria.get("professionals", [])}
    nearest = (sealed or {}).get("asked")
    if nearest is None:
        return [EnSusProfessional.model_validate(p) for p in clear.values()]
    return [EnSusProfessional.model_validate({**clear[p["id"]], **p}) for p in nearest]


def _out(row: Row[Any], sealed: dict[str, Any] | None) -> EnSusRequestOut:
    return EnSusRequestOut(
        id=row.id,
        status="expired" if row.lapsed else row.status,
        territory_id=row.territory_id,
        expires_at=row.expires_at,
        created_at=row.created_at,
        accepted_by_professional_id=row.accepted_by_professional_id,
        accepted_at=row.accepted_at,
        criteria=sealed.get("search", {}) if sealed is not None else None,
        reason=sealed.get("reason") if sealed is not None else None,
        professionals=_professionals(row, sealed),
    )


def _answer(row: Row[Any], principal: Principal, cipher: PatientCipher) -> EnSusRequestOut:
    """The request as `principal` may read it: its patient fields opened only if allowed."""
    sealed: dict[str, Any] | None = None
    if access_of(row, principal) is Access.PATIENT:
        sealed = cipher.open_json(row.reason, _context(row.id)) if row.reason is not None else {}
    return _out(row, sealed)


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
    asked = rows.all()
    request_id = uuid.uuid4()
    by_id = sorted(asked, key=lambda r: r.id)
    criteria = {
        "professionals": [
            {
                "id": str(r.id),
                "rpps": r.rpps,
                "family_name": r.family_name,
                "given_name": r.given_name,
            }
            for r in by_id
        ]
    }
    sealed = {
        "reason": data.reason,
        "search": data.model_dump(mode="json", exclude={"reason"}, exclude_none=True),
        "asked": [
            {
                "id": str(r.id),
                "distance_km": round(float(r.distance_m) / 1000, 3),
                "site": SiteBrief(
                    id=r.site_id, name=r.site_name, address=r.address, postcode=r.postcode
                ).model_dump(mode="json"),
            }
            for r in asked
        ],
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
                "professional_ids": [r.id for r in by_id],
                "asked_count": len(asked),
                **audit.actor_params(principal),
            },
        )
    ).one()
    return _out(row, sealed)


async def _visible(session: AsyncSession, principal: Principal, request_id: uuid.UUID) -> Row[Any]:
    row = (await session.execute(sql.READ, {"id": request_id})).one_or_none()
    if row is None or access_of(row, principal) is Access.NONE:
        raise NotFound(f"no en-sus request {request_id}", location="path.request_id")
    return row


async def read_request(
    session: AsyncSession, principal: Principal, cipher: PatientCipher, request_id: uuid.UUID
) -> EnSusRequestOut:
    """An en-sus request, its patient fields only for who may read them (`en_sus.access`).

    Rule: every read is audited, with whether the patient fields were disclosed.
    """
    row = await _visible(session, principal, request_id)
    await audit.record(
        session,
        principal,
        "request.read",
        "en_sus_request",
        request_id,
        territory_id=row.territory_id,
        detail={"patient_fields": access_of(row, principal) is Access.PATIENT},
    )
    return _answer(row, principal, cipher)


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
    asked = asked_ids(row)
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
    return _answer(accepted, principal, cipher)
