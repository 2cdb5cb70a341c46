import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at, updated_at, uuid_pk


class Site(Base):
    """A lieu d'exercice: where patients are seen, inside one territory."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
        CheckConstraint("postcode ~ '^[0-9]{5}$'", name="postcode_format"),
        # Nearest-site search: KNN (`<->`) on the earth point of the site.
        Index("ix_sites_earth", text("ll_to_earth(lat, lon)"), postgresql_using="gist"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    territory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("territories.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    postcode: Mapped[str] = mapped_column(String(5))
    insee_code: Mapped[str] = mapped_column(String(5))
    lat: Mapped[float]
    lon: Mapped[float]
    timezone: Mapped[str] = mapped_column(Text, server_default="Europe/Paris")
    accessible: Mapped[bool] = mapped_column(server_default="false")
    active: Mapped[bool] = mapped_column(server_default="true")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class SiteProfessional(Base):
    """A professional's role at a site (a professional may work at several sites)."""

    __tablename__ = "site_professionals"

    site_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    professional_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("professionals.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(Text, server_default="effecteur")
