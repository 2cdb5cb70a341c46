"""Who may read an en-sus request, and who may read its patient fields: the one rule every read
path (`GET /v1/requests/{id}`, the accept answer) goes through.

Rules (issue 9):
- The request (status, territory, expiry, who was asked and who accepted) is readable by the
  regulators of its territory, the practice software of a professional asked, and admins.
- Its patient fields (the reason, the search criteria with the patient's location and médecin
  traitant, and the professionals' distances and nearest sites, which give the location back by
  trilateration) are readable only by the requesting regulator client and, once the request is
  accepted, the practice software of the accepting professional; by nobody once the request has
  expired (or was cancelled). Other regulators of the territory, the other practices asked and
  admins see the request without them, as with bookings.
"""

import enum
import uuid
from typing import Any

from sqlalchemy import Row

from app.core.auth import Principal


class Access(enum.Enum):
    NONE = "none"
    REQUEST = "request"
    PATIENT = "patient"


def asked_ids(row: Row[Any]) -> list[uuid.UUID]:
    """The professionals a request asked (kept in clear, by id, to tell their practices)."""
    return [uuid.UUID(p["id"]) for p in row.criteria.get("professionals", [])]


def _patient_fields_live(row: Row[Any]) -> bool:
    """An expired (or cancelled) request's patient fields are for nobody any more."""
    return not row.lapsed and row.status in ("open", "accepted")


def access_of(row: Row[Any], principal: Principal) -> Access:
    """What `principal` may read of the request `row` (module doc)."""
    live = _patient_fields_live(row)
    if principal.role == "admin":
        return Access.REQUEST
    if principal.role == "regulator":
        if principal.client_id == row.regulator_client_id:
            return Access.PATIENT if live else Access.REQUEST
        return Access.REQUEST if row.territory_id in principal.territory_ids else Access.NONE
    if principal.role == "practice_software":
        if (
            row.status == "accepted"
            and row.accepted_by_professional_id in principal.professional_ids
        ):
            return Access.PATIENT if live else Access.REQUEST
        if principal.professional_ids.isdisjoint(asked_ids(row)):
            return Access.NONE
        return Access.REQUEST
    return Access.NONE
