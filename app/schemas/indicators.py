"""`GET /v1/indicators`: a territory's SNP figures for a period (rules: `services.indicators`)."""

import uuid
from datetime import date

from pydantic import ConfigDict, Field

from app.schemas.common import Output


class Period(Output):
    """Whole days in the territory's zone, both included."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    timezone: str


class Totals(Output):
    slots_offered: int
    slot_hours: float
    searches: int
    searches_without_candidate: int
    holds: int
    bookings: int
    cancellations: int
    fulfilled: int
    noshow: int
    bookings_within_48h: int
    share_within_48h: float | None
    median_distance_km: float | None
    median_delay_hours: float | None
    en_sus_requests: int
    en_sus_accepted: int
    en_sus_expired: int


class SlotFigure(Output):
    """Slots offered in one ISO week by one professional, of one modality and label."""

    week: str
    professional_id: uuid.UUID
    modality: str
    label: str | None
    slots: int
    hours: float


class ProfessionalWeek(Output):
    week: str
    snp_hours: float
    forfait_eligible: bool
    majoration_candidates: int
    majoration_eligible: int


class ProfessionalFigures(Output):
    id: uuid.UUID
    rpps: str
    family_name: str
    given_name: str
    weekly_snp_cap: int
    weeks: list[ProfessionalWeek]


class Indicators(Output):
    territory_id: uuid.UUID
    period: Period
    weeks: list[str]
    totals: Totals
    slots: list[SlotFigure]
    professionals: list[ProfessionalFigures]
