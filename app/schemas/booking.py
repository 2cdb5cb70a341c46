"""Bookings: a live hold confirmed with the patient minimum; statuses reported by the practice."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from app.schemas.common import Input, Output
from app.schemas.identifiers import Name, Phone, Rpps
from app.schemas.text import StrippedText

BookingStatus = Literal["held", "released", "expired", "booked", "fulfilled", "noshow", "cancelled"]
ReportedStatus = Literal["fulfilled", "noshow", "cancelled"]
OLDEST_BIRTH_DATE = date(1900, 1, 1)
# The earliest zone is UTC+14: a child born "today" somewhere is not refused as born tomorrow.
_EARLIEST_ZONE = timedelta(hours=14)


Reason = Annotated[str, StrippedText(2000)]


class Patient(Input):
    """The patient minimum (kept encrypted at rest, never logged or audited)."""

    family_name: Name
    given_name: Name
    birth_date: date
    phone: Phone

    @field_validator("birth_date")
    @classmethod
    def _birth_date_not_in_the_future(cls, value: date) -> date:
        if not OLDEST_BIRTH_DATE <= value <= (datetime.now(UTC) + _EARLIEST_ZONE).date():
            raise ValueError("a birth date is today or earlier, from 1900-01-01")
        return value


class BookingCreate(Input):
    """`POST /v1/bookings`: confirm a live hold of the calling regulator."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "hold_id": "5d8e2f1a-7b3c-4a9e-8f6d-0c1b2a3e4d5f",
                    "patient": {
                        "family_name": "Durand",
                        "given_name": "Léa",
                        "birth_date": "1987-04-12",
                        "phone": "06 12 34 56 78",
                    },
                    "reason": "otalgie fébrile",
                }
            ]
        }
    )

    hold_id: uuid.UUID
    patient: Patient
    reason: Reason | None = None
    # Sealed with the patient; the booking keeps in clear only whether it is the booked one.
    medecin_traitant_rpps: Rpps | None = Field(
        default=None,
        description="The RPPS of the patient's médecin traitant, when known: a consultation by "
        "another professional may earn the SNP majoration (see GET /v1/indicators).",
    )


class BookingStatusUpdate(Input):
    """`PATCH /v1/bookings/{id}`: what happened, reported by the practice software."""

    status: ReportedStatus


class BookingOut(Output):
    id: uuid.UUID
    hold_id: uuid.UUID
    slot_id: uuid.UUID
    external_id: str
    status: BookingStatus
    start: datetime
    end: datetime
    modality: str
    professional_id: uuid.UUID
    site_id: uuid.UUID
    booked_at: datetime | None
    updated_at: datetime
    patient: Patient | None = None
    reason: str | None = None
    medecin_traitant_rpps: str | None = None
