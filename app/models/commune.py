from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Commune(Base):
    """A French commune; its centroid (loaded by an operator) turns its code into a location."""

    __tablename__ = "communes"
    __table_args__ = (
        CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="centroid_complete"),
        CheckConstraint("lat IS NULL OR lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon IS NULL OR lon BETWEEN -180 AND 180", name="lon_range"),
    )

    insee_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    departement: Mapped[str] = mapped_column(String(3))
    postcodes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    population: Mapped[int] = mapped_column(Integer, server_default="0")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
