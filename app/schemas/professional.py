import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.schemas.common import Input, Output, Patch
from app.schemas.identifiers import Language, Name, Rpps
from app.schemas.text import StrippedText

Code = Annotated[str, StrippedText(20)]


class ProfessionalCreate(Input):
    rpps: Rpps
    family_name: Name
    given_name: Name
    profession: Code = Field(description="profession code (TRE_G15), e.g. 10 for a médecin")
    specialty: Code | None = Field(default=None, description="specialty (TRE_R38), e.g. SM54")
    sas_participant: bool = False
    accepts_en_sus: bool = False
    weekly_snp_cap: int = Field(default=20, ge=0, le=200)
    languages: list[Language] = Field(default_factory=lambda: ["fr"], max_length=20)


class ProfessionalUpdate(Patch):
    nullable = frozenset({"specialty"})

    family_name: Name | None = None
    given_name: Name | None = None
    profession: Code | None = None
    specialty: Code | None = None
    sas_participant: bool | None = None
    accepts_en_sus: bool | None = None
    weekly_snp_cap: int | None = Field(default=None, ge=0, le=200)
    languages: list[Language] | None = Field(default=None, max_length=20)
    active: bool | None = None


class ProfessionalOut(Output):
    id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str
    profession: str
    specialty: str | None
    sas_participant: bool
    accepts_en_sus: bool
    weekly_snp_cap: int
    languages: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime
