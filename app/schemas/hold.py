"""Holds: a regulator keeps a free slot for a few minutes while talking to the patient."""

import uuid
from datetime import datetime

from pydantic import Field

from app.schemas.common import Input, Output

DEFAULT_HOLD_SECONDS = 300
MAX_HOLD_SECONDS = 900
MIN_HOLD_SECONDS = 10


class HoldCreate(Input):
    """`POST /v1/holds`: hold a slot, or renew this regulator's live hold on it."""

    slot_id: uuid.UUID
    ttl_seconds: int = Field(default=DEFAULT_HOLD_SECONDS, ge=MIN_HOLD_SECONDS, le=MAX_HOLD_SECONDS)


class HoldOut(Output):
    id: uuid.UUID
    slot_id: uuid.UUID
    expires_at: datetime
    ttl_seconds: int
    renewed: bool = False
