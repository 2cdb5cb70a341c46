import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at, updated_at, uuid_pk

SLOT_STATUSES = ("free", "held", "booked", "cancelled")
ACTIVE_SLOT_STATUSES = ("free", "held", "booked")
MODALITIES = ("AMB", "HH", "VR")
LABELS = ("PUBLIC", "PRO", "SNP", "CPTS")
# The fields a push sets, in the order `slot_digest` hashes them.
DIGESTED = ("professional_id", "site_id", "start_at", "end_at", "modality", "labels", "booking_url")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def digest_prefix(professional_id: uuid.UUID, site_id: uuid.UUID) -> bytes:
    """The first part of `slot_digest`'s input (shared by every slot of a professional and site)."""
    return professional_id.bytes + site_id.bytes


def slot_digest(
    professional_id: uuid.UUID,
    site_id: uuid.UUID,
    start_at: datetime,
    end_at: datetime,
    modality: str,
    labels: Iterable[str],
    booking_url: str | None,
    *,
    prefix: bytes | None = None,
) -> bytes:
    """SHA-256 of a slot's canonical pushed fields: equal digests, equal slots.

    Canonical: the two ids as their 16 bytes, the times as big-endian 64-bit microseconds since
    the epoch (any offset, one instant), then modality, labels (distinct, in code-point order,
    joined by commas) and `-` or `+url`, UTF-8 and NUL-separated (text cannot hold a NUL).
    Migration 0017 computes the same bytes in SQL (`DIGEST_SQL`) for the rows stored before it.
    `prefix`: `digest_prefix(professional_id, site_id)`, if the caller has it already.
    """
    head = prefix if prefix is not None else digest_prefix(professional_id, site_id)
    times = ((start_at - _EPOCH) // _MICROSECOND).to_bytes(8, "big", signed=True) + (
        (end_at - _EPOCH) // _MICROSECOND
    ).to_bytes(8, "big", signed=True)
    tail = "\x00".join(
        (
            modality,
            ",".join(sorted(set(labels))),
            "-" if booking_url is None else "+" + booking_url,
        )
    )
    return hashlib.sha256(head + times + tail.encode()).digest()


class Slot(Base):
    """A time a professional opened for SNP, pushed by a practice-software client.

    It has no coordinates of its own: a search locates it by its site.
    """

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("source_client_id", "external_id", name="uq_slots_source_external_id"),
        CheckConstraint("end_at > start_at", name="end_after_start"),
        CheckConstraint("status IN ('free', 'held', 'booked', 'cancelled')", name="status"),
        CheckConstraint("modality IN ('AMB', 'HH', 'VR')", name="modality"),
        CheckConstraint("labels <@ ARRAY['PUBLIC','PRO','SNP','CPTS']::text[]", name="labels"),
        CheckConstraint("status <> 'held' OR hold_expires_at IS NOT NULL", name="held_has_expiry"),
        # No two active slots of one professional overlap.
        ExcludeConstraint(
            ("professional_id", "="),
            (text("tstzrange(start_at, end_at)"), "&&"),
            name="ex_slots_professional_overlap",
            using="gist",
            where=text("status <> 'cancelled'"),
        ),
        Index(
            "ix_slots_site_open_start",
            "site_id",
            "start_at",
            postgresql_where=text("status IN ('free', 'held')"),
        ),
        Index("ix_slots_source_start", "source_client_id", "start_at"),
        # The indicators' slots of a territory's sites, whatever their status (migration 0013).
        Index("ix_slots_site_start", "site_id", "start_at"),
        # The admin dashboard's booked slots of a territory's sites, hour by hour.
        Index(
            "ix_slots_site_booked_start",
            "site_id",
            "start_at",
            postgresql_where=text("status = 'booked'"),
        ),
        # The FHIR Slot search (services/fhir): by practitioner, then time.
        Index(
            "ix_slots_professional_open_start",
            "professional_id",
            "start_at",
            postgresql_where=text("status IN ('free', 'held')"),
        ),
        Index(
            "ix_slots_hold_expiry",
            "hold_expires_at",
            postgresql_where=text("status = 'held'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    source_client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    external_id: Mapped[str] = mapped_column(Text)
    professional_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("professionals.id"))
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"))
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    modality: Mapped[str] = mapped_column(Text)
    labels: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{SNP}")
    status: Mapped[str] = mapped_column(Text, server_default="free")
    hold_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    booking_url: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(server_default="1")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    # `slot_digest` of the row's pushed fields; NULL when unknown (never trusted then).
    digest: Mapped[bytes | None] = mapped_column(LargeBinary)


@event.listens_for(Slot, "before_insert")
def _digest_on_insert(_mapper: Any, _connection: Any, slot: Slot) -> None:
    """Slots created through the ORM carry the digest of what they hold."""
    loaded = inspect(slot).dict
    values = {name: loaded.get(name) for name in DIGESTED}
    if values["labels"] is None:
        values["labels"] = ["SNP"]  # the column's server default
    slot.digest = _digest_of(values)


@event.listens_for(Slot, "before_update")
def _digest_on_update(_mapper: Any, _connection: Any, slot: Slot) -> None:
    """An ORM change of a pushed field re-digests the row (from loaded values only, no I/O)."""
    state = inspect(slot)
    if not any(state.attrs[name].history.has_changes() for name in DIGESTED):
        return
    loaded = state.dict
    if any(name not in loaded for name in DIGESTED):
        slot.digest = None  # not all known here: unknown, never trusted
        return
    slot.digest = _digest_of({name: loaded[name] for name in DIGESTED})


def _digest_of(values: dict[str, Any]) -> bytes | None:
    if any(values[name] is None for name in DIGESTED[:-1]):
        return None
    return slot_digest(**values)
