"""En-sus requests: when nothing is free, ask the professionals who see patients beyond their
published slots; the first who accepts gets the patient."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict

from app.schemas.booking import Reason
from app.schemas.common import Input, Output
from app.schemas.search import SearchQuery, SiteBrief

RequestStatus = Literal["open", "accepted", "expired", "cancelled"]


class EnSusRequestCreate(SearchQuery):
    """`POST /v1/requests`: a search body (where the patient is, what is needed) and a reason."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"location": {"insee_code": "44109"}, "reason": "fièvre depuis 3 jours"}]
        }
    )

    reason: Reason | None = None


class EnSusAccept(Input):
    """`POST /v1/requests/{id}/accept`: the professional who takes the patient."""

    professional_id: uuid.UUID


class EnSusProfessional(Output):
    """A professional asked. For a reader of the patient fields: nearest first, with the site of
    theirs nearest to the patient and its distance; for the others, by id, without them."""

    id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str
    distance_km: float | None = None
    site: SiteBrief | None = None


class EnSusRequestOut(Output):
    """An en-sus request; `criteria` and `reason` are null for a reader not allowed the patient
    fields (`services/en_sus/access`)."""

    id: uuid.UUID
    status: RequestStatus
    territory_id: uuid.UUID
    expires_at: datetime
    created_at: datetime
    accepted_by_professional_id: uuid.UUID | None
    accepted_at: datetime | None
    criteria: dict[str, Any] | None
    reason: str | None
    professionals: list[EnSusProfessional]
