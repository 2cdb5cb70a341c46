"""The SMART Scheduling Links resources (FHIR R4 Location, Schedule, Slot) of one row each.

Ids are the SAS interface's (`services/fhir/resources`): Location = the site's id, Schedule =
`role_id(professional, site)`, Slot = the slot's id. Times carry the site's zone offset. The
CPTS's phone, when known, is the Location's contact and the Slot's booking phone; the slot's
`booking_url` is its booking deep link. One line = one minified JSON object (orjson).
"""

import uuid
from typing import Any

import orjson

from app.services.fhir.resources import role_id, specialty_concept

REGISTRY = "http://fhir-registry.smarthealthit.org/StructureDefinition/"
BOOKING_DEEP_LINK = REGISTRY + "booking-deep-link"
BOOKING_PHONE = REGISTRY + "booking-phone"
SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
SITE_IDENTIFIER = "urn:ietf:rfc:3986"

# Every Schedule offers the same service: unscheduled general-practice care (soins non
# programmés); the HL7 service-type 124 "General Practice" is the nearest standard code.
_SERVICE_TYPE = [
    {
        "coding": [{"system": SERVICE_TYPE, "code": "124", "display": "General Practice"}],
        "text": "Soins non programmés",
    }
]


def _line(resource: dict[str, Any]) -> bytes:
    return orjson.dumps(resource) + b"\n"


def location_line(
    site_id: uuid.UUID,
    name: str,
    address: str,
    postcode: str,
    city: str,
    lat: float,
    lon: float,
    departement: str,
    phone: str | None,
) -> bytes:
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": str(site_id),
        "identifier": [{"system": SITE_IDENTIFIER, "value": f"urn:uuid:{site_id}"}],
        "name": name,
    }
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    resource["address"] = {
        "line": [address],
        "city": city,
        "state": departement,
        "postalCode": postcode,
        "country": "FR",
    }
    resource["position"] = {"latitude": lat, "longitude": lon}
    return _line(resource)


def schedule_line(professional_id: uuid.UUID, site_id: uuid.UUID, specialty: str | None) -> bytes:
    resource: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": role_id(professional_id, site_id),
        "serviceType": _SERVICE_TYPE,
    }
    if specialty:
        resource["specialty"] = specialty_concept(specialty)
    resource["actor"] = [{"reference": f"Location/{site_id}"}]
    return _line(resource)


def slot_line(
    slot_id: str,
    professional_id: uuid.UUID,
    site_id: uuid.UUID,
    start: str,
    end: str,
    booking_url: str | None,
    phone: str | None,
    is_free: bool,
) -> bytes:
    """A Slot; `start` and `end` come as timestamps with the site's offset (`sql.local_instant`)."""
    resource: dict[str, Any] = {
        "resourceType": "Slot",
        "id": slot_id,
        "schedule": {"reference": f"Schedule/{role_id(professional_id, site_id)}"},
        "status": "free" if is_free else "busy",
        "start": start,
        "end": end,
    }
    extension = []
    if booking_url:
        extension.append({"url": BOOKING_DEEP_LINK, "valueUrl": booking_url})
    if phone:
        extension.append({"url": BOOKING_PHONE, "valueString": phone})
    if extension:
        resource["extension"] = extension
    return _line(resource)
