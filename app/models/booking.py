import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, LargeBinary, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at, updated_at, uuid_pk

BOOKING_STATUSES = (
    "held",
    "released",
    "expired",
    "booked",
    "fulfilled",
    "noshow",
    "cancelled",
)
# A slot has at most one row in these statuses (the unique index below).
ACTIVE_BOOKING_STATUSES = ("held", "booked", "fulfilled", "noshow")


class Booking(Base):
    """A regulator's hold on a slot, which becomes the booking once the patient is confirmed.

    The patient minimum (name, birth date, phone, reason) is kept encrypted in `patient`.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(
            "status IN ('held','released','expired','booked','fulfilled','noshow','cancelled')",
            name="status",
        ),
        Index(
            "uq_bookings_active_slot",
            "slot_id",
            unique=True,
            postgresql_where=text("status IN ('held', 'booked', 'fulfilled', 'noshow')"),
        ),
        Index(
            "uq_bookings_idempotency",
            "regulator_client_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        Index("ix_bookings_expiry", "expires_at", postgresql_where=text("status = 'held'")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("slots.id"))
    regulator_client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    status: Mapped[str] = mapped_column(Text, server_default="held")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    patient: Mapped[bytes | None] = mapped_column(LargeBinary)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    booked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
