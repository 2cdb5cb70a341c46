"""The body of an event for its recipient: one function for the webhooks and the feed.

Rules:
- an event body is `{"id", "type", "occurred_at", "data"}`, built by `event_body` from an outbox
  row (the columns `EVENT_COLUMNS`), so a webhook and the feed give the same ids and bodies;
- each (event, recipient) is its own outbox row with its own `event_id`: the `webhook-id` a
  receiver dedupes on is its own message, never a handle on what another client was told, and
  the bodies differ by recipient (the patient minimum below);
- `booking.created` carries the patient minimum (`patient`, `reason`) only to the slot's
  current practice software and to the regulator who booked, and only while the booking still
  holds it: `PATIENT_JOIN` joins the sealed `bookings.patient` when the body is built, so no
  outbox row ever holds patient data (they are kept for the retention period, bookings are
  purged by their own rules). Later booking events carry the booking id only: the minimum is
  disclosed once, and the booking can be read again (`GET /v1/bookings/{id}`, audited);
- each disclosure is audited (`audit_disclosures`: who received which booking's patient, on
  which channel, never the data itself).
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.crypto import PatientCipher, UndecryptableData
from app.models import AuditEvent
from app.schemas.event import EventOut
from app.services.bookings.service import patient_context

logger = logging.getLogger(__name__)

PATIENT_EVENT = "booking.created"

# The event's columns, from `outbox_events e` and `PATIENT_JOIN`.
EVENT_COLUMNS = """
    e.event_id, e.type, e.occurred_at, e.data, e.territory_id, e.recipient_client_id,
    pm.booking_id AS patient_booking_id, pm.patient AS sealed_patient
"""

# The sealed patient minimum of a `booking.created`, for its two entitled recipients only.
PATIENT_JOIN = f"""
    LEFT JOIN LATERAL (
        SELECT b.id AS booking_id, b.patient FROM bookings b JOIN slots s ON s.id = b.slot_id
        WHERE e.type = '{PATIENT_EVENT}' AND b.id = CAST(e.data ->> 'booking_id' AS uuid)
          AND b.patient IS NOT NULL
          AND e.recipient_client_id IN (b.regulator_client_id, s.source_client_id)
    ) pm ON true
"""  # noqa: S608 (constants only)


@dataclass(frozen=True)
class Disclosure:
    """A body that carried a booking's patient minimum to a client."""

    booking_id: uuid.UUID
    event_id: uuid.UUID
    client_id: uuid.UUID
    territory_id: uuid.UUID | None


@dataclass(frozen=True)
class Built:
    body: EventOut
    disclosure: Disclosure | None

    def json(self) -> str:
        """The body as a webhook sends it (the feed serializes the same model)."""
        return self.body.model_dump_json()


def event_body(row: Any, cipher: PatientCipher) -> Built:
    """The event of an outbox row (`EVENT_COLUMNS`) as its recipient receives it."""
    data: dict[str, Any] = dict(row.data)
    disclosure = None
    if row.sealed_patient is not None:
        try:
            opened = cipher.open_json(row.sealed_patient, patient_context(row.patient_booking_id))
        except UndecryptableData:
            # Sealed under a key no longer configured: the event leaves without the minimum.
            logger.warning("booking %s: patient minimum undecryptable", row.patient_booking_id)
        else:
            data["patient"] = opened["patient"]
            data["reason"] = opened.get("reason")
            disclosure = Disclosure(
                row.patient_booking_id, row.event_id, row.recipient_client_id, row.territory_id
            )
    body = EventOut(id=row.event_id, type=row.type, occurred_at=row.occurred_at, data=data)
    return Built(body, disclosure)


async def audit_disclosures(
    session: AsyncSession,
    disclosures: Sequence[Disclosure],
    channel: str,
    *,
    reader: Principal | None = None,
    detail: Sequence[dict[str, Any]] | None = None,
) -> None:
    """One audit event per disclosure of a patient minimum (ids only), in the caller's
    transaction; `channel` is `webhook` (sent by the system) or `feed` (read by `reader`)."""
    if not disclosures:
        return
    extra = detail or [{} for _ in disclosures]
    await session.execute(
        insert(AuditEvent),
        [
            {
                "actor_client_id": reader.client_id if reader else None,
                "actor": reader.label if reader else f"system:{channel}",
                "action": "booking.patient_disclose",
                "resource_type": "booking",
                "resource_id": str(d.booking_id),
                "territory_id": d.territory_id,
                "detail": {
                    "to_client_id": str(d.client_id),
                    "event_id": str(d.event_id),
                    "channel": channel,
                    **more,
                },
            }
            for d, more in zip(disclosures, extra, strict=True)
        ],
    )
