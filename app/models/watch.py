import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at, uuid_pk


class Watch(Base):
    """A regulator's search, watched for slots that open (issue 17, `services.watches`).

    Any process may serve its stream: the search is here, sealed (`query_sealed`: the patient's
    location is in it), with the change-feed position it was created at (`start_txid`: the feed
    horizon then; events of transactions from it on are the watch's). `hold`: the first match is
    held for the regulator; `hold_id` is that hold, set once in the transaction that took it,
    and `held_event` the event that said so (replayed on resume: the held slot leaves the search).
    """

    __tablename__ = "watches"
    __table_args__ = (Index("ix_watches_regulator_open", "regulator_client_id", "expires_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    regulator_client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE")
    )
    query_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    hold: Mapped[bool]
    start_txid: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hold_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="SET NULL")
    )
    held_event: Mapped[dict[str, object] | None] = mapped_column(JSONB)
