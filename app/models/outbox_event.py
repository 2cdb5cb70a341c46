import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

# The events after which a slot may be free again (pushed, released, expired, cancelled): the
# watches' change feed (`services.watches`, migration 0014).
SLOT_OPENING_TYPES = (
    "slot.created",
    "slot.updated",
    "slot.transferred",
    "hold.released",
    "hold.expired",
    "booking.cancelled",
)
SLOT_OPENINGS_WHERE = "type IN (" + ", ".join(f"'{t}'" for t in SLOT_OPENING_TYPES) + ")"
# Every event after which a slot's state may differ (the openings and what takes a slot): the
# in-memory search index's change feed (`services.search.index`, migration 0016).
SLOT_CHANGE_TYPES = (
    *SLOT_OPENING_TYPES,
    "slot.cancelled",
    "hold.created",
    "hold.renewed",
    "booking.created",
)
SLOT_CHANGES_WHERE = "type IN (" + ", ".join(f"'{t}'" for t in SLOT_CHANGE_TYPES) + ")"


class OutboxEvent(Base):
    """An event written in the same transaction as the change it reports.

    One row per (event, recipient): `recipient_client_id` is the client it is for (webhook and
    feed), so an event told to a practice software and to a regulator is two rows, each with its
    own `event_id` (see `outbox.bodies`). `txid` lets the feed hand out only events whose
    transaction is over for every reader, in (txid, id) order, so a reader never skips an event
    that committed late. No patient data here: it is joined from `bookings` when a body is built.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_recipient_txid", "recipient_client_id", "txid", "id"),
        # The watches' change feed: the events that may open a slot, in feed order (0014).
        Index(
            "ix_outbox_events_slot_openings",
            "txid",
            "id",
            postgresql_where=text(SLOT_OPENINGS_WHERE),
        ),
        # The search index's change feed: every slot change, in feed order (0016).
        Index(
            "ix_outbox_events_slot_changes",
            "txid",
            "id",
            postgresql_where=text(SLOT_CHANGES_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(
        unique=True, server_default=text("gen_random_uuid()")
    )
    type: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    # No foreign keys (migration 0003): append-only rows; clients and territories are never
    # deleted, and each check cost a trigger per event on the ingest path.
    recipient_client_id: Mapped[uuid.UUID | None]
    territory_id: Mapped[uuid.UUID | None]
    data: Mapped[dict[str, object]] = mapped_column(JSONB)
    txid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint")
    )
