import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookDelivery(Base):
    """One outbox event on its way to one client's webhook endpoint.

    Written by the trigger `outbox_events_to_deliveries` (migration 0008) in the statement that
    writes the event, for each recipient with a `webhook_url`, so a delivery exists iff its event
    does. `ordering_key` is the slot (or en-sus request) the event is about: a client gets the
    events of one key in event order, each delivered or failed before the next leaves.
    `leased_until`: a worker is sending it; another may take it over only once that has passed
    (and `attempts`, incremented by each lease, fences a late result of the previous holder).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        UniqueConstraint("outbox_event_id", "client_id", name="uq_webhook_deliveries_event_client"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_webhook_deliveries_pending_order",
            "client_id",
            "ordering_key",
            "outbox_event_id",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_client_id", "client_id", "id"),
        # The admin's list of failed deliveries (migration 0010).
        Index(
            "ix_webhook_deliveries_failed",
            "client_id",
            "id",
            postgresql_where=text("status = 'failed'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    # No foreign key to outbox_events (see migration 0003): the event row is append-only.
    outbox_event_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"))
    ordering_key: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
