"""Slots as practice software pushes them, and the per-item answer of a push."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from app.schemas.common import Input, Output
from app.schemas.identifiers import Rpps

MAX_BATCH_ITEMS = 5_000

Modality = Literal["AMB", "HH", "VR"]
Label = Literal["PUBLIC", "PRO", "SNP", "CPTS"]
SlotStatus = Literal["free", "held", "booked", "cancelled"]
ItemStatus = Literal["created", "updated", "unchanged", "rejected", "conflict"]


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            "timestamp_without_offset",
            "a timestamp must carry an offset (RFC 3339), e.g. 2026-11-23T14:30:00+01:00",
        )
    return value


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


OffsetDatetime = Annotated[datetime, AfterValidator(_require_offset)]
ExternalId = Annotated[str, BeforeValidator(_strip), Field(min_length=1, max_length=200)]
BookingUrl = Annotated[str, Field(max_length=2000, pattern=r"^https?://\S+$")]


def _default_labels() -> list[Label]:
    return ["SNP"]


class SlotItem(Input):
    """One slot of a push; validated on its own so that one bad item spoils nothing else."""

    external_id: ExternalId
    professional_rpps: Rpps
    site_id: uuid.UUID
    start: OffsetDatetime
    end: OffsetDatetime
    modality: Modality
    labels: list[Label] = Field(default_factory=_default_labels, min_length=1, max_length=4)
    booking_url: BookingUrl | None = None


class SlotBatch(Input):
    """`PUT /v1/slots`: items stay raw here and are validated one by one by the service."""

    slots: list[Any] = Field(
        max_length=MAX_BATCH_ITEMS,
        description=f"up to {MAX_BATCH_ITEMS} slot items (see SlotItem); each gets its own result",
    )


class SyncWindow(Input):
    start: OffsetDatetime
    end: OffsetDatetime

    @model_validator(mode="after")
    def _end_after_start(self) -> "SyncWindow":
        if self.end <= self.start:
            raise ValueError("window.end must be after window.start")
        return self


class SlotSync(SlotBatch):
    """`POST /v1/slots/sync`: the items plus the window they describe completely."""

    window: SyncWindow


class ItemError(BaseModel):
    type: str
    detail: str
    location: str | None = None


class SlotResult(BaseModel):
    index: int
    external_id: str | None
    status: ItemStatus
    id: uuid.UUID | None = None
    error: ItemError | None = None


class SlotRef(BaseModel):
    id: uuid.UUID
    external_id: str
    status: SlotStatus


class SlotPushAnswer(BaseModel):
    results: list[SlotResult]
    counts: dict[str, int]


class SlotSyncAnswer(SlotPushAnswer):
    cancelled: list[SlotRef]
    untouched: list[SlotRef] = Field(
        description="held or booked slots of the window that the body no longer lists: kept"
    )


class SlotOut(Output):
    id: uuid.UUID
    external_id: str
    professional_id: uuid.UUID
    professional_rpps: str
    site_id: uuid.UUID
    start: datetime
    end: datetime
    modality: Modality
    labels: list[str]
    booking_url: str | None
    status: SlotStatus
    hold_expires_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
