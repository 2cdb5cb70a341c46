"""A world for the FHIR tests: CPTS territories, professionals and sites through the admin API,
slots straight into the table (as the slot intake leaves them), and a SAS platform key."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import MakeKey, bearer
from tests.factories import create_professional, create_site, create_territory

OID_PS = "urn:oid:1.2.250.1.71.4.2.1"


def soon(hours: float) -> datetime:
    """A time `hours` from now, on the minute (slots must not have started)."""
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


def kit_time(at: datetime) -> str:
    """How the certification kit writes a bound: local Paris time, to the second."""
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%dT%H:%M:%S")


def national_id(professional: dict[str, Any]) -> str:
    return f"{OID_PS}|8{professional['rpps']}"


@dataclass
class FhirWorld:
    client: httpx.AsyncClient
    admin: dict[str, str]
    session: AsyncSession
    make_key: MakeKey
    source_id: uuid.UUID | None = None
    territories: list[uuid.UUID] = field(default_factory=list)

    async def territory(self, **fields: Any) -> uuid.UUID:
        tid = uuid.UUID((await create_territory(self.client, self.admin, **fields))["id"])
        self.territories.append(tid)
        return tid

    async def professional(self, **fields: Any) -> dict[str, Any]:
        return await create_professional(self.client, self.admin, **fields)

    async def site(
        self, territory_id: uuid.UUID, *pros: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        return await create_site(
            self.client, self.admin, territory_id, [p["id"] for p in pros], **fields
        )

    async def slot(
        self,
        professional: dict[str, Any],
        site: dict[str, Any],
        start: datetime,
        minutes: int = 20,
        modality: str = "AMB",
        labels: tuple[str, ...] = ("SNP",),
        status: str = "free",
        hold_expires_at: datetime | None = None,
        booking_url: str | None = "https://agenda.example/rdv/1",
    ) -> uuid.UUID:
        if self.source_id is None:
            _, self.source_id = await self.make_key("practice_software")
        slot_id: uuid.UUID = (
            await self.session.execute(
                text(
                    """
                    INSERT INTO slots (source_client_id, external_id, professional_id, site_id,
                        start_at, end_at, modality, labels, status, hold_expires_at, booking_url)
                    VALUES (:source, :external_id, :professional_id, :site_id, :start, :end,
                        :modality, :labels, :status, :hold_expires_at, :booking_url)
                    RETURNING id
                    """
                ),
                {
                    "source": self.source_id,
                    "external_id": uuid.uuid4().hex,
                    "professional_id": uuid.UUID(professional["id"]),
                    "site_id": uuid.UUID(site["id"]),
                    "start": start,
                    "end": start + timedelta(minutes=minutes),
                    "modality": modality,
                    "labels": list(labels),
                    "status": status,
                    "hold_expires_at": hold_expires_at,
                    "booking_url": booking_url,
                },
            )
        ).scalar_one()
        return slot_id

    async def sas_headers(self, *territory_ids: uuid.UUID) -> dict[str, str]:
        key, _ = await self.make_key("sas_platform", list(territory_ids or self.territories))
        return bearer(key)
