import uuid
from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, Field

from app.schemas.common import Input, Output
from app.schemas.identifiers import Name

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
    active: bool
    created_at: datetime


class ApiClientCreated(ApiClientOut):
    """The answer to a create: the only time the key and the webhook secret are shown."""

    api_key: str
    webhook_secret: str | None = None
