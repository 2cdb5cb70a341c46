import uuid
from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, Field

from app.schemas.common import Input, Output
from app.schemas.identifiers import Name
from app.schemas.webhook import WebhookHealth

Role = Literal["admin", "regulator", "practice_software", "sas_platform"]


class ApiClientCreate(Input):
    name: Name
    role: Role
    territory_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    professional_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10_000)
    webhook_url: AnyHttpUrl | None = None


class ApiClientOut(Output):
    id: uuid.UUID
    name: str
    role: Role
    key_prefix: str
    territory_ids: list[uuid.UUID]
    professional_ids: list[uuid.UUID]
    webhook_url: str | None
    # Set when the endpoint answered 410 Gone: nothing is sent until it is enabled again.
    webhook_disabled_at: datetime | None = None
    active: bool
    created_at: datetime


class ApiClientCreated(ApiClientOut):
    """The answer to a create: the only time the key and the webhook secret are shown."""

    api_key: str
    webhook_secret: str | None = None


class SlotCounts(Output):
    """A source's slots still to come (not ended, not cancelled), by what they are now.

    `free`: free by the shared rule (a lapsed hold counts as free) and not started; offered to
    regulators only while the source is active. `held`: under a live hold. `booked`: booked.
    """

    free: int
    held: int
    booked: int


class ApiClientDetail(ApiClientOut):
    """One client, with its slots (what a revoke leaves behind, for the admin to act on) and
    its webhook's health (null without a webhook URL)."""

    slots: SlotCounts
    webhook: WebhookHealth | None


class KeyRotation(Input):
    """`grace_seconds`: how long the previous key keeps working (0: refused at once)."""

    grace_seconds: int = Field(default=0, ge=0, le=86_400)


class ApiClientRotated(ApiClientCreated):
    """The answer to a rotation: the new key, shown once, and until when the previous one works."""

    previous_key_expires_at: datetime | None


class SlotTransfer(Input):
    to_client_id: uuid.UUID


class SlotsTransferred(Output):
    """How many slots changed hands, by status (every slot of the source moves)."""

    from_client_id: uuid.UUID
    to_client_id: uuid.UUID
    transferred: int
    by_status: dict[str, int]


class WebhookSecretRotated(Output):
    """The answer to a webhook secret rotation: the new secret, shown once; until
    `previous_secret_expires_at` deliveries are signed with both."""

    client_id: uuid.UUID
    webhook_secret: str
    previous_secret_expires_at: datetime
