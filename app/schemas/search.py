"""The search for free slots near a patient: request body and ranked answer."""

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, JsonValue, field_validator, model_validator

from app.schemas.common import Input, Output
from app.schemas.identifiers import AwareDatetime, InseeCode, Language, Latitude, Longitude, Rpps
from app.schemas.text import StrippedText

Modality = Literal["AMB", "HH", "VR"]
CandidateGroup = Literal["medecin_traitant", "sas_participant", "other"]
MAX_SEARCH_LIMIT = 50


class LatLon(Input):
    """The patient's location as coordinates (WGS 84)."""

    lat: Latitude
    lon: Longitude


class InseeLocation(Input):
    """The patient's commune; its centroid (communes table) is the search location."""

    insee_code: InseeCode


class SearchWindow(Input):
    """When the consultation may start; either bound may be left out for its default."""

    start: AwareDatetime | None = None
    end: AwareDatetime | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("window.end must be after window.start")
        return self


SEARCH_EXAMPLE: dict[str, JsonValue] = {
    "location": {"lat": 47.2184, "lon": -1.5536},
    "window": {"start": "2026-11-23T14:00:00+01:00", "end": "2026-11-24T20:00:00+01:00"},
    "modalities": ["AMB", "VR"],
    "specialty": "SM54",
    "languages": ["fr"],
    "limit": 5,
}


class SearchQuery(Input):
    """`POST /v1/searches` body (also the base of dispatch and en-sus request bodies)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [SEARCH_EXAMPLE, {"location": {"insee_code": "44109"}}]}
    )

    location: LatLon | InseeLocation
    window: SearchWindow | None = None
    modalities: list[Modality] | None = Field(default=None, min_length=1, max_length=3)
    specialty: Annotated[str, StrippedText(20)] | None = None
    languages: list[Language] | None = Field(default=None, min_length=1, max_length=10)
    accessible: bool | None = None
    medecin_traitant_rpps: Rpps | None = None
    limit: int = Field(default=10, ge=1, le=MAX_SEARCH_LIMIT)

    @field_validator("modalities")
    @classmethod
    def _unique_modalities(cls, value: list[Modality] | None) -> list[Modality] | None:
        return list(dict.fromkeys(value)) if value is not None else None

    @field_validator("languages")
    @classmethod
    def _unique_languages(cls, value: list[str] | None) -> list[str] | None:
        return list(dict.fromkeys(value)) if value is not None else None


class ProfessionalBrief(Output):
    id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str


class SiteBrief(Output):
    id: uuid.UUID
    name: str
    address: str
    postcode: str


class Candidate(Output):
    """One free slot offered to the regulator, with what placed it where it is."""

    slot_id: uuid.UUID
    start: datetime
    end: datetime
    modality: Modality
    distance_km: float
    professional: ProfessionalBrief
    site: SiteBrief
    territory_id: uuid.UUID
    group: CandidateGroup
    score: float
    why: str


class WindowOut(Output):
    start: datetime
    end: datetime


class SearchResult(Output):
    """Candidates best first, the radius finally used and whether it was enlarged.

    `search_id`: quote it in `POST /v1/holds` so the indicators know the search behind the hold
    (its time, and the distance to the slot held); opaque, valid for your client only.
    """

    candidates: list[Candidate]
    radius_km: float
    enlarged: bool
    window: WindowOut
    search_id: str
