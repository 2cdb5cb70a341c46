import uuid
from datetime import datetime

from pydantic import Field

from app.schemas.common import Input, Output, Patch
from app.schemas.identifiers import Departement, Finess, Name, TimeZoneName

# The columns keep two decimals (numeric(6,2)) and refuse 0: a smaller radius would round to
# 0 km and break the table's check; under 100 m a search radius means nothing anyway.
MIN_RADIUS_KM = 0.1
MAX_RADIUS_KM = 200


class TerritoryCreate(Input):
    name: Name
    finess: Finess
    departement: Departement
    timezone: TimeZoneName | None = None
    radius_km: float | None = Field(default=None, ge=MIN_RADIUS_KM, le=MAX_RADIUS_KM)
    enlargement_km: float | None = Field(default=None, ge=0, le=MAX_RADIUS_KM)


class TerritoryUpdate(Patch):
    nullable = frozenset({"radius_km", "enlargement_km"})

    name: Name | None = None
    timezone: TimeZoneName | None = None
    radius_km: float | None = Field(default=None, ge=MIN_RADIUS_KM, le=MAX_RADIUS_KM)
    enlargement_km: float | None = Field(default=None, ge=0, le=MAX_RADIUS_KM)
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
    active: bool
    created_at: datetime
    updated_at: datetime
