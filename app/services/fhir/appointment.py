"""The FHIR Appointment the SAS receives for a SAS regulator's booking (flow INT_R03).

Rules (FrAppointmentSAS): our identifier of the appointment (the booking's id, in the system
`SAS_APPOINTMENT_IDENTIFIER_SYSTEM`), the regulator who booked (extension
FrAppointmentOperator: national id with type IDNPS, or SAS technical id with type INTRN), the
status (booked, fulfilled, noshow, cancelled), start and end with their offset, when it was
booked, and the effecteur (8 + RPPS, IDNPS) as the one participant, `accepted`. Nothing about
the patient: the SAS does not receive the patient's identity.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.services.fhir import codes
from app.services.fhir.resources import instant, national_ps_identifier


@dataclass(frozen=True)
class AppointmentFacts:
    booking_id: uuid.UUID
    status: str
    operator_system: str
    operator_value: str
    start_at: datetime
    end_at: datetime
    booked_at: datetime | None
    timezone: str
    rpps: str


def appointment(facts: AppointmentFacts, identifier_system: str) -> dict[str, Any]:
    operator_type = "IDNPS" if facts.operator_system == codes.OID_PS else "INTRN"
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "meta": {"profile": [codes.PROFILE_APPOINTMENT]},
        "extension": [
            {
                "url": codes.APPOINTMENT_OPERATOR,
                "valueReference": {
                    "identifier": {
                        "type": {"coding": [{"system": codes.V2_0203, "code": operator_type}]},
                        "system": facts.operator_system,
                        "value": facts.operator_value,
                    }
                },
            }
        ],
        "identifier": [{"system": identifier_system, "value": str(facts.booking_id)}],
        "status": facts.status,
        "start": instant(facts.start_at, facts.timezone),
        "end": instant(facts.end_at, facts.timezone),
    }
    if facts.booked_at is not None:
        resource["created"] = instant(facts.booked_at, facts.timezone)
    resource["participant"] = [
        {"actor": {"identifier": national_ps_identifier("8" + facts.rpps)}, "status": "accepted"}
    ]
    return resource
