import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at


class IdempotencyRecord(Base):
    """The first answer to a write sent with an Idempotency-Key, replayed for the same body.

    The row is inserted at the start of the write's transaction: a concurrent retry with the same
    key waits on the primary key until the first one commits, then replays its answer.
    """

    __tablename__ = "idempotency_records"

    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    method: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None]
    response: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at()
