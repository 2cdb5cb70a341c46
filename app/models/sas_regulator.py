import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at, updated_at


class SasRegulator(Base):
    """The SAS identity of a regulator API client created by the SAS platform (FHIR INT_R02).

    A regulator is known by its national id (IDNPS, `urn:oid:1.2.250.1.71.4.2.1`), by its SAS
    technical id (`urn:oid:1.2.250.1.213.3.6`), or both once the national id is attached; a
    deactivated account may have lost its national id to another account (reattribution).
    """

    __tablename__ = "sas_regulators"
    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), primary_key=True
    )
    national_id: Mapped[str | None] = mapped_column(Text, unique=True)
    technical_id: Mapped[str | None] = mapped_column(Text, unique=True)
    family_name: Mapped[str] = mapped_column(Text)
    given_name: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
