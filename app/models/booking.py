import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    Text,
    text,
)
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
# What the indicators read of a booking, carried by their indexes (migration 0013).
INDICATOR_FACTS = [
    "status",
    "professional_id",
    "created_at",
    "searched_at",
    "search_distance_m",
    "medecin_traitant_booked",
]


class Booking(Base):
    """A regulator's hold on a slot, which becomes the booking once the patient is confirmed.

    The patient minimum (name, birth date, phone, reason) is kept encrypted in `patient`; what
    the indicators count stays in plain columns (territory, times, search distance, whether the
    médecin traitant was booked), so purging `patient` keeps the figures (migration 0013).
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
        # The indicators' ranges of one territory (migration 0013), index-only where it counts.
        Index("ix_bookings_territory_created_at", "territory_id", "created_at"),
        Index(
            "ix_bookings_territory_booked_at",
            "territory_id",
            "booked_at",
            postgresql_include=[*INDICATOR_FACTS, "starts_at"],
            postgresql_where=text("booked_at IS NOT NULL"),
        ),
        Index(
            "ix_bookings_territory_consultations",
            "territory_id",
            "starts_at",
            postgresql_include=INDICATOR_FACTS,
            postgresql_where=text("status IN ('booked', 'fulfilled')"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("slots.id"))
    regulator_client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    status: Mapped[str] = mapped_column(Text, server_default="held")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    patient: Mapped[bytes | None] = mapped_column(LargeBinary)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    booked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    territory_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("territories.id"))
    professional_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("professionals.id"))
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    searched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search_distance_m: Mapped[float | None]
    medecin_traitant_booked: Mapped[bool | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
