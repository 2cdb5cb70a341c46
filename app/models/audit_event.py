import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, Text, literal_column, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AuditEvent(Base):
    """Who did what to which resource, when. Append-only: a trigger refuses UPDATE and DELETE.

    `detail` never holds patient data (counts, ids, statuses only).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_resource", "resource_type", "resource_id"),
        Index("ix_audit_events_actor_id", "actor_client_id", "id"),
        # The indicators' searches of a territory (migration 0013): by territory and time for a
        # regulator of one territory, by the territories of the detail for the others.
        Index(
            "ix_audit_events_search_territory",
            "territory_id",
            "occurred_at",
            postgresql_where=text("action = 'search.run'"),
        ),
        Index(
            "ix_audit_events_search_territories",
            literal_column("(detail -> 'territory_ids')").label("territory_ids"),
            postgresql_using="gin",
            postgresql_ops={"territory_ids": "jsonb_path_ops"},
            postgresql_where=text("action = 'search.run' AND territory_id IS NULL"),
        ),
        # The admin dashboard's "searches that found nothing" of a territory (few rows: partial).
        Index(
            "ix_audit_events_empty_searches",
            "territory_id",
            "occurred_at",
            postgresql_where=text("action = 'search.run' AND detail ->> 'candidates' = '0'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    # No foreign key: the trail outlives deleted clients and must never block a delete.
    actor_client_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    resource_type: Mapped[str] = mapped_column(Text)
    resource_id: Mapped[str | None] = mapped_column(Text)
    territory_id: Mapped[uuid.UUID | None]
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, server_default="{}")
    request_id: Mapped[str | None] = mapped_column(Text)
