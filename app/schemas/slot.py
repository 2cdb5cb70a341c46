"""Slots as practice software pushes them, and the per-item answer of a push."""

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.schemas.common import Input, Output
from app.schemas.identifiers import timestamp_text
from app.schemas.text import StrippedText, Text

MAX_BATCH_ITEMS = 5_000

Modality = Literal["AMB", "HH", "VR"]
Label = Literal["PUBLIC", "PRO", "SNP", "CPTS"]
SlotStatus = Literal["free", "held", "booked", "cancelled"]
ItemStatus = Literal["created", "updated", "unchanged", "rejected", "conflict"]


# The form practice software sends (`2026-11-23T14:30:00+01:00`, `…:00.250Z`): read by the
# standard library in one call. Anything else, or what it refuses, takes pydantic's path below,
# which words the errors (a push holds 10,000 timestamps: this halves their cost).
_PLAIN_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339_in_utc(value: object, handler: ValidatorFunctionWrapHandler) -> datetime:
    if type(value) is str and _PLAIN_TIMESTAMP.fullmatch(value):
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    parsed: datetime = handler(timestamp_text(value))
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError(
            "timestamp_without_offset",
            "a timestamp must carry an offset (RFC 3339), e.g. 2026-11-23T14:30:00+01:00",
        )
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
        raise PydanticCustomError("timestamp_out_of_range", "timestamp out of range") from None


# Parsed, required to carry an offset, and returned in UTC.
OffsetDatetime = Annotated[datetime, WrapValidator(_rfc3339_in_utc)]
ExternalId = Annotated[str, StrippedText(200)]
BookingUrl = Annotated[Text, StringConstraints(max_length=2000, pattern=r"^https?://[^\s\x00]+$")]
SlotRpps = Annotated[Text, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{11}$")]


def _labels_set(labels: list[str]) -> list[str]:
    return sorted(set(labels))


def _default_labels() -> list[Label]:
    return ["SNP"]


class SlotItem(Input):
    """One slot of a push; validated on its own so that one bad item spoils nothing else.

    Times come out in UTC and labels sorted without repeats, ready to compare and store.
    """

    external_id: ExternalId
    professional_rpps: SlotRpps
    site_id: uuid.UUID
    start: OffsetDatetime
    end: OffsetDatetime
    modality: Modality
    labels: Annotated[list[Label], AfterValidator(_labels_set)] = Field(
        default_factory=_default_labels, min_length=1, max_length=4
    )
    booking_url: BookingUrl | None = None


class SlotBatch(Input):
    """`PUT /v1/slots`: items stay raw here and are validated one by one by the service."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "slots": [
                        {
                            "external_id": "agenda-7781-20261123T1430",
                            "professional_rpps": "10003456789",
                            "site_id": "3f2c9a8e-5b1d-4c7e-9a0f-2d6b8e4c1a77",
                            "start": "2026-11-23T14:30:00+01:00",
                            "end": "2026-11-23T14:50:00+01:00",
                            "modality": "AMB",
                            "labels": ["SNP"],
                        }
                    ]
                }
            ]
        }
    )

    slots: list[Any] = Field(
        max_length=MAX_BATCH_ITEMS,
        description=f"up to {MAX_BATCH_ITEMS} slot items; each is judged on its own and gets its "
        "own result (an invalid item is `rejected` in a 200 answer, the others still land)",
        json_schema_extra={"items": {"$ref": "#/components/schemas/SlotItem"}},
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
