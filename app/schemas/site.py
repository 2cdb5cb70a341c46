import uuid
from datetime import datetime

from pydantic import Field

from app.schemas.common import Input, Output, Patch
from app.schemas.identifiers import InseeCode, Latitude, Longitude, Name, Postcode, TimeZoneName


class SiteCreate(Input):
    territory_id: uuid.UUID
    name: Name
    address: Name
    postcode: Postcode
    insee_code: InseeCode
    lat: Latitude
    lon: Longitude
    timezone: TimeZoneName | None = None
    accessible: bool = False
    professional_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)


class SiteUpdate(Patch):
    name: Name | None = None
    address: Name | None = None
    postcode: Postcode | None = None
    insee_code: InseeCode | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    timezone: TimeZoneName | None = None
    accessible: bool | None = None
    active: bool | None = None
    professional_ids: list[uuid.UUID] | None = Field(default=None, max_length=500)


class SiteOut(Output):
    id: uuid.UUID
    territory_id: uuid.UUID
    name: str
    address: str
    postcode: str
    insee_code: str
    lat: float
    lon: float
    timezone: str
    accessible: bool
    active: bool
    professional_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime
