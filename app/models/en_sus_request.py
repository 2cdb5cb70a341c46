import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at, updated_at, uuid_pk


class EnSusRequest(Base):
    """A request for a professional to see a patient beyond their published slots ("en sus").

    `criteria` (clear) holds only who was asked, by id; `reason` seals the patient fields (the
    reason, the search, the distances and nearest sites of those asked).
    """

    __tablename__ = "en_sus_requests"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'accepted', 'expired', 'cancelled')", name="status"),
        CheckConstraint(
            "(status = 'accepted') = (accepted_by_professional_id IS NOT NULL)",
            name="accepted_has_professional",
        ),
        # The sweep's scan (`en_sus.expiry`) in every process: the open requests by expiry only.
        Index(
            "ix_en_sus_requests_open_expires_at",
            "expires_at",
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_en_sus_requests_territory_created_at", "territory_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    territory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("territories.id"), index=True)
    regulator_client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    criteria: Mapped[dict[str, object]] = mapped_column(JSONB)
    reason: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(Text, server_default="open")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_by_professional_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("professionals.id")
    )
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
