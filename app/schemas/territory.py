import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from app.schemas.common import Input, Output, Patch
from app.schemas.identifiers import Departement, Finess, Name, Phone, TimeZoneName
from app.schemas.slot import Label

# The columns keep two decimals (numeric(6,2)) and refuse 0: a smaller radius would round to
# 0 km and break the table's check; under 100 m a search radius means nothing anyway.
MIN_RADIUS_KM = 0.1
MAX_RADIUS_KM = 200


def _french(phone: str) -> str:
    if not phone.startswith("+33"):
        raise ValueError("the CPTS's phone is a French number (+33…), as the SAS guide wants")
    return phone


def _label_set(labels: list[str]) -> list[str]:
    return sorted(set(labels))


# The slot labels a territory publishes as SMART Scheduling Links (GET /smart/$bulk-publish):
# default `PUBLIC` only; `SNP`/`CPTS` slots are for regulators unless the territory says so.
SmartLabels = Annotated[
    list[Label],
    AfterValidator(_label_set),
    Field(max_length=4, description="labels published at /smart/$bulk-publish ([] = none)"),
]

# The CPTS's phone, published on its FHIR Organization for the SAS (`+33` and 9 digits).
CptsPhone = Annotated[Phone, AfterValidator(_french)]


class TerritoryCreate(Input):
    name: Name
    finess: Finess
    departement: Departement
    timezone: TimeZoneName | None = None
    radius_km: float | None = Field(default=None, ge=MIN_RADIUS_KM, le=MAX_RADIUS_KM)
    enlargement_km: float | None = Field(default=None, ge=0, le=MAX_RADIUS_KM)
    phone: CptsPhone | None = None
    smart_labels: SmartLabels | None = None


class TerritoryUpdate(Patch):
    nullable = frozenset({"radius_km", "enlargement_km", "phone"})

    name: Name | None = None
    timezone: TimeZoneName | None = None
    radius_km: float | None = Field(default=None, ge=MIN_RADIUS_KM, le=MAX_RADIUS_KM)
    enlargement_km: float | None = Field(default=None, ge=0, le=MAX_RADIUS_KM)
    phone: CptsPhone | None = None
    smart_labels: SmartLabels | None = None
    active: bool | None = None


class TerritoryOut(Output):
    id: uuid.UUID
    name: str
    finess: str
    departement: str
    timezone: str
    radius_km: float | None
    enlargement_km: float | None
    default_radius_km: float | None = None
    default_enlargement_km: float | None = None
    phone: str | None = None
    smart_labels: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime
