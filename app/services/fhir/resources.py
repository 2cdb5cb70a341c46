"""The guide's resources for one slot row: Slot, Schedule, Practitioner, PractitionerRole (with
its Location contained), HealthcareService and Organization (flow INT_R04).

Rules:
- Ids: Slot = the slot's id, Practitioner = the professional's, Schedule and PractitionerRole
  = one id per (professional, site) pair (one Schedule per place of practice), HealthcareService
  and Organization = the CPTS territory's.
- A slot labelled `CPTS` is a CPTS slot: its serviceType also carries the category 604 and the
  R5 extension pointing to the CPTS's HealthcareService, which points to the Organization
  (identifier 1 + FINESS, type IDNST); it claims the CPTS Slot profile.
- Times with the site's zone offset; `comment` is the booking URL; `appointmentType` ROUTINE
  (every slot here is booked, none is a walk-in).
"""

import hashlib
import re
import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from app.services.fhir import codes
from app.services.fhir.slot_search import SlotRow

_KEY = b"snp-dispatch practitioner role"
_SPECIALTY_CODE = re.compile(r"^SM\d{2}$")
LOCATION_ID = "location"


@lru_cache(maxsize=65_536)
def role_id(professional_id: uuid.UUID, site_id: uuid.UUID) -> str:
    """The id of the Schedule and PractitionerRole of a professional at a site (stable).

    A keyed 128-bit hash of the pair (32 hex digits, a FHIR id): the same every time, and cheap
    (a search names each pair up to five times; uuid5 cost half of the Bundle's build).
    """
    digest = hashlib.blake2s(f"{professional_id}:{site_id}".encode(), digest_size=16, key=_KEY)
    return digest.hexdigest()


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def instant(at: datetime, zone: str) -> str:
    """An instant with the offset of `zone` (the guide wants offsets, not Z)."""
    return at.astimezone(_zone(zone)).isoformat()


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


# Parts every slot shares, built once (orjson writes a shared object as often as it appears).
_MODALITY = {m: _coding(codes.ACT_CODE, m) for m in ("AMB", "HH", "VR")}
_LABEL = {label: {"system": codes.SLOT_SECURITY, "code": label} for label in codes.SLOT_LABELS}
_ROUTINE = _coding(codes.APPOINTMENT_REASON, "ROUTINE")
_PROFILE_SLOT = [codes.PROFILE_SLOT]
_PROFILE_SLOT_CPTS = [codes.PROFILE_SLOT_CPTS]


@lru_cache(maxsize=1024)
def specialty_concept(specialty: str) -> list[dict[str, Any]]:
    """A professional's specialty: its TRE-R38 code (`SMnn`), or as text."""
    if _SPECIALTY_CODE.match(specialty):
        return [_coding(codes.SPECIALTY, specialty)]
    return [{"text": specialty}]


def slot(row: SlotRow) -> dict[str, Any]:
    cpts = "CPTS" in row.labels
    service_type = [_MODALITY.get(row.modality) or _coding(codes.ACT_CODE, row.modality)]
    if cpts:
        service_type.append(
            {
                "extension": [
                    {
                        "url": codes.SERVICE_TYPE_R5,
                        "valueReference": {"reference": f"HealthcareService/{row.territory_id}"},
                    }
                ],
                **_coding(codes.CATEGORIE_ETABLISSEMENT, codes.CPTS_CATEGORY),
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Slot",
        "id": str(row.id),
        "meta": {
            "profile": _PROFILE_SLOT_CPTS if cpts else _PROFILE_SLOT,
            "security": [_LABEL[label] for label in row.labels],
        },
        "serviceType": service_type,
    }
    if row.specialty:
        resource["specialty"] = specialty_concept(row.specialty)
    resource["appointmentType"] = _ROUTINE
    resource["schedule"] = {"reference": f"Schedule/{role_id(row.professional_id, row.site_id)}"}
    resource["status"] = "free"
    resource["start"] = instant(row.start_at, row.timezone)
    resource["end"] = instant(row.end_at, row.timezone)
    if row.booking_url:
        resource["comment"] = row.booking_url
    return resource


def schedule(row: SlotRow) -> dict[str, Any]:
    rid = role_id(row.professional_id, row.site_id)
    return {
        "resourceType": "Schedule",
        "id": rid,
        "meta": {"profile": [codes.PROFILE_SCHEDULE]},
        "active": True,
        "actor": [
            {"reference": f"Practitioner/{row.professional_id}"},
            {"reference": f"PractitionerRole/{rid}"},
        ],
    }


def national_ps_identifier(value: str) -> dict[str, Any]:
    return {
        "type": _coding(codes.V2_0203, "IDNPS"),
        "system": codes.OID_PS,
        "value": value,
    }


def practitioner(row: SlotRow) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": str(row.professional_id),
        "meta": {"profile": [codes.PROFILE_PRACTITIONER]},
        "identifier": [national_ps_identifier("8" + row.rpps)],
        "active": True,
        "name": [{"family": row.family_name, "given": [row.given_name]}],
    }


def location(row: SlotRow) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": LOCATION_ID,
        "meta": {"profile": [codes.PROFILE_LOCATION]},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{row.site_id}"}],
        "status": "active",
        "name": row.site_name,
        "address": {
            "use": "work",
            "type": "physical",
            "line": [row.address],
            "city": row.city,
            "postalCode": row.postcode,
        },
    }


def practitioner_role(row: SlotRow) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "id": role_id(row.professional_id, row.site_id),
        "meta": {"profile": [codes.PROFILE_PRACTITIONER_ROLE]},
        "contained": [location(row)],
        "active": True,
        "practitioner": {"reference": f"Practitioner/{row.professional_id}"},
        "location": [{"reference": f"#{LOCATION_ID}"}],
    }


def healthcare_service(row: SlotRow) -> dict[str, Any]:
    return {
        "resourceType": "HealthcareService",
        "id": str(row.territory_id),
        "meta": {"profile": [codes.PROFILE_HEALTHCARE_SERVICE]},
        "active": True,
        "providedBy": {"reference": f"Organization/{row.territory_id}"},
        "name": row.territory_name,
    }


def organization(row: SlotRow) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": str(row.territory_id),
        "meta": {"profile": [codes.PROFILE_ORGANIZATION]},
        "identifier": [
            {
                "type": _coding(codes.FR_CORE_V2_0203, "IDNST"),
                "system": codes.OID_STRUCTURE,
                "value": "1" + row.finess,
            }
        ],
        "active": True,
        "name": row.territory_name,
    }
    if row.phone:
        resource["telecom"] = [{"system": "phone", "value": row.phone, "use": "work"}]
    return resource
