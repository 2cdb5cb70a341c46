import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at


class IdempotencyRecord(Base):
    """The first answer to a write sent with an Idempotency-Key, replayed for the same body.

    The row is inserted at the start of the write's transaction: a concurrent retry with the same
    key waits on the primary key until the first one commits, then replays its answer. Nothing in
    clear: the body is compared by a keyed digest (HMAC-SHA-256, hex) and the answer is sealed
    (`app.core.idempotency`); the sweep deletes records past IDEMPOTENCY_TTL_SECONDS, oldest first.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (Index("ix_idempotency_records_created_at", "created_at"),)

    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    method: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    body_digest: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None]
    response: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_at()
