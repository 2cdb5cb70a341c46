"""Holds: a regulator keeps a free slot for a few minutes while talking to the patient."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from app.schemas.common import Input, Output

DEFAULT_HOLD_SECONDS = 300
MAX_HOLD_SECONDS = 900
MIN_HOLD_SECONDS = 10


class HoldCreate(Input):
    """`POST /v1/holds`: hold a free slot (a held slot is refused, whoever holds it)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"slot_id": "9b1e4f3a-2c7d-4e8b-a6f0-1d2c3b4a5e6f", "ttl_seconds": 300}]
        }
    )

    slot_id: uuid.UUID
    ttl_seconds: int = Field(default=DEFAULT_HOLD_SECONDS, ge=MIN_HOLD_SECONDS, le=MAX_HOLD_SECONDS)
    search_id: (
        Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[A-Za-z0-9_-]+$")]
        | None
    ) = Field(
        default=None,
        description="The `search_id` of the search the slot was found by (for the indicators: "
        "the search's time and the distance to the slot).",
    )


class HoldRenew(Input):
    """`POST /v1/holds/{id}/renew`: the hold now expires `ttl_seconds` from now (capped)."""

    ttl_seconds: int = Field(default=DEFAULT_HOLD_SECONDS, ge=MIN_HOLD_SECONDS, le=MAX_HOLD_SECONDS)


class HoldOut(Output):
    """A live hold. `ttl_seconds`: what was granted (a renewal may be cut by the lifetime cap)."""

    id: uuid.UUID
    slot_id: uuid.UUID
    expires_at: datetime
    ttl_seconds: int
