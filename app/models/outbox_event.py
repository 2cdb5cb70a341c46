import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class OutboxEvent(Base):
    """An event written in the same transaction as the change it reports.

    `recipient_client_id` is the client the event is for (webhook and feed); `txid` lets the feed
    hand out only events whose transaction is visible to every later reader, so a reader paging by
    `id` never skips an event that committed late.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_recipient_id", "recipient_client_id", "id"),
        Index(
            "ix_outbox_events_pending_delivery",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL AND dead_at IS NULL"),
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
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dead_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
