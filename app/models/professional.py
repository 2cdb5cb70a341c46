import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at, updated_at, uuid_pk


class Professional(Base):
    """An effecteur: a health professional who offers SNP slots, identified by RPPS."""

    __tablename__ = "professionals"
    __table_args__ = (
        CheckConstraint("rpps ~ '^[0-9]{11}$'", name="rpps_format"),
        CheckConstraint("weekly_snp_cap >= 0", name="weekly_snp_cap"),
        # Lists page in creation order (the API's keyset, the admin's list and its search).
        Index("ix_professionals_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    rpps: Mapped[str] = mapped_column(String(11), unique=True)
    family_name: Mapped[str] = mapped_column(Text)
    given_name: Mapped[str] = mapped_column(Text)
    profession: Mapped[str] = mapped_column(Text)
    specialty: Mapped[str | None] = mapped_column(Text)
    sas_participant: Mapped[bool] = mapped_column(server_default="false")
    accepts_en_sus: Mapped[bool] = mapped_column(server_default="false")
    weekly_snp_cap: Mapped[int] = mapped_column(server_default="20")
    languages: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{fr}")
    active: Mapped[bool] = mapped_column(server_default="true")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
