import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at, uuid_pk

ROLES = ("admin", "regulator", "practice_software", "sas_platform")


class ApiClient(Base):
    """A caller of the API. Its key is shown once; only its SHA-256 is kept.

    After a rotation with a grace period, the previous key's hash is kept until it expires, so
    that a client's deployments can switch keys without a refused request.
    """

    __tablename__ = "api_clients"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'regulator', 'practice_software', 'sas_platform')", name="role"
        ),
        CheckConstraint(
            "previous_key_hash IS NULL OR previous_key_expires_at IS NOT NULL",
            name="previous_key_has_expiry",
        ),
        CheckConstraint(
            "previous_webhook_secret IS NULL OR previous_webhook_secret_expires_at IS NOT NULL",
            name="previous_webhook_secret_has_expiry",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    key_prefix: Mapped[str] = mapped_column(Text, unique=True)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    previous_key_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    previous_key_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    # After a secret rotation, the previous secret signs too until it expires (24 h).
    previous_webhook_secret: Mapped[str | None] = mapped_column(Text)
    previous_webhook_secret_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    # Set when the endpoint answered 410 Gone: no delivery is made to it any more.
    webhook_disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(server_default="true")
    created_at: Mapped[datetime] = created_at()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiClientTerritory(Base):
    """The territories a client works in (regulators, practice software, SAS platform)."""

    __tablename__ = "api_client_territories"

    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), primary_key=True
    )
    territory_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("territories.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ApiClientProfessional(Base):
    """The professionals a practice-software client may push slots for."""

    __tablename__ = "api_client_professionals"

    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), primary_key=True
    )
    professional_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("professionals.id", ondelete="CASCADE"), primary_key=True, index=True
    )
