import uuid
from datetime import datetime

from pydantic import Field

from app.schemas.common import Input, Output, Patch
from app.schemas.identifiers import Departement, Finess, Name, TimeZoneName


class TerritoryCreate(Input):
    name: Name
    finess: Finess
    departement: Departement
    timezone: TimeZoneName | None = None
    radius_km: float | None = Field(default=None, gt=0, le=200)
    enlargement_km: float | None = Field(default=None, ge=0, le=200)


class TerritoryUpdate(Patch):
    nullable = frozenset({"radius_km", "enlargement_km"})

    name: Name | None = None
    timezone: TimeZoneName | None = None
    radius_km: float | None = Field(default=None, gt=0, le=200)
    enlargement_km: float | None = Field(default=None, ge=0, le=200)
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
