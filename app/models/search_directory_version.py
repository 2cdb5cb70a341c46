from sqlalchemy import BigInteger, CheckConstraint, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class SearchDirectoryVersion(Base):
    """One row, bumped by triggers at every change of what a search reads besides slots
    (territories, sites, professionals, communes, a client created or (de)activated): each
    process's in-memory search index reloads when it sees another version (migration 0016)."""

    __tablename__ = "search_directory_version"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default="1")
    version: Mapped[int] = mapped_column(BigInteger, server_default="1")
