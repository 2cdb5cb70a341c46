import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, Text
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at

SAS_APPOINTMENT_STATES = ("pending", "sent", "failed")


class SasAppointment(Base):
    """A FHIR Appointment owed to the SAS (INT_R03): one row per status a SAS booking reached.

    Written by the trigger `bookings_to_sas_appointments` (migration 0011) in the statement
    that changes the booking; sent in order per booking by `services.fhir.appointment_worker`.
    """

    __tablename__ = "sas_appointments"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sent', 'failed')", name="state"),
        CheckConstraint("status IN ('booked', 'fulfilled', 'noshow', 'cancelled')", name="status"),
        Index(
            "ix_sas_appointments_due",
            "next_attempt_at",
            postgresql_where=sql_text("state = 'pending'"),
        ),
        Index(
            "ix_sas_appointments_pending_booking",
            "booking_id",
            "id",
            postgresql_where=sql_text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(Text)
    # The regulator who booked, as the SAS knows it when the row is written.
    operator_system: Mapped[str] = mapped_column(Text)
    operator_value: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=sql_text("now()")
    )
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
