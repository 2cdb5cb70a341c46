import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Numeric, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at, updated_at, uuid_pk


class Territory(Base):
    """A CPTS: the territory whose professionals share their SNP slots."""

    __tablename__ = "territories"
    __table_args__ = (
        CheckConstraint("radius_km IS NULL OR (radius_km > 0 AND radius_km <= 200)", name="radius"),
        CheckConstraint(
            "enlargement_km IS NULL OR (enlargement_km >= 0 AND enlargement_km <= 200)",
            name="enlargement",
        ),
        CheckConstraint("phone IS NULL OR phone ~ '^\\+33[1-9][0-9]{8}$'", name="phone_format"),
        CheckConstraint(
            "smart_labels <@ ARRAY['PUBLIC','PRO','SNP','CPTS']::text[]", name="smart_labels"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(Text)
    finess: Mapped[str] = mapped_column(String(9), unique=True)
    departement: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(Text, server_default="Europe/Paris")
    radius_km: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    enlargement_km: Mapped[float | None] = mapped_column(Numeric(6, 2, asdecimal=False))
    # The CPTS's phone on its FHIR Organization (SAS), `+33` and 9 digits.
    phone: Mapped[str | None] = mapped_column(Text)
    # The slot labels published as SMART Scheduling Links (GET /smart/$bulk-publish, migration
    # 0015): a slot is published when it carries one of them. SNP and CPTS are for regulators.
    smart_labels: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{PUBLIC}")
    active: Mapped[bool] = mapped_column(server_default="true")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
