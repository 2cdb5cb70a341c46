"""CPTS indicators: the facts they count and their indexes (issue 14).

The indicators count plain columns only, so a purge of a booking's sealed patient minimum
(`bookings.patient` set to NULL) keeps every figure:
- `bookings.territory_id`, `professional_id`, `starts_at`: the slot's territory (of its site),
  professional and start when the hold was taken: a site may change territory later, and a
  slot freed by a cancellation may be pushed again at another time; the booking counts what was
  booked. Backfilled from the slots.
- `bookings.searched_at`, `bookings.search_distance_m`: the time of the search the hold came
  from, and the straight-line distance from the search location to the slot's site, written
  by the hold statement (dispatch, or a hold quoting the search's `search_id`); NULL when the
  hold named no search.
- `bookings.medecin_traitant_booked`: whether the booked professional is the patient's médecin
  traitant (the booking's optional `medecin_traitant_rpps`); NULL when not said.

Indexes (each read of `GET /v1/indicators` is a range of one territory):
- holds by creation, bookings by booking time and consultations by start, per territory
  (the last two carry the facts they count: index-only scans);
- the searches' audit events per territory and time (single-territory regulators), and by the
  territories listed in their detail for the others (GIN, partial);
- slots per site and start whatever their status (the existing one is partial on open slots);
- en-sus requests per territory and creation.

Revision ID: 0013_indicators
Revises: 0012_admin
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_indicators"
down_revision: str | None = "0012_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = """
    UPDATE bookings b
    SET territory_id = si.territory_id, professional_id = s.professional_id, starts_at = s.start_at
    FROM slots s JOIN sites si ON si.id = s.site_id
    WHERE s.id = b.slot_id
"""
_FACTS = [
    "status",
    "professional_id",
    "created_at",
    "searched_at",
    "search_distance_m",
    "medecin_traitant_booked",
]


def upgrade() -> None:
    op.add_column("bookings", sa.Column("territory_id", sa.Uuid(), nullable=True))
    op.add_column("bookings", sa.Column("professional_id", sa.Uuid(), nullable=True))
    op.add_column("bookings", sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("bookings", sa.Column("searched_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("bookings", sa.Column("search_distance_m", sa.Float(), nullable=True))
    op.add_column("bookings", sa.Column("medecin_traitant_booked", sa.Boolean(), nullable=True))
    op.create_foreign_key(
        op.f("fk_bookings_territory_id_territories"),
        "bookings",
        "territories",
        ["territory_id"],
        ["id"],
    )
    op.create_foreign_key(
        op.f("fk_bookings_professional_id_professionals"),
        "bookings",
        "professionals",
        ["professional_id"],
        ["id"],
    )
    op.execute(_BACKFILL)
    op.create_index("ix_bookings_territory_created_at", "bookings", ["territory_id", "created_at"])
    op.create_index(
        "ix_bookings_territory_booked_at",
        "bookings",
        ["territory_id", "booked_at"],
        postgresql_include=[*_FACTS, "starts_at"],
        postgresql_where=sa.text("booked_at IS NOT NULL"),
    )
    op.create_index(
        "ix_bookings_territory_consultations",
        "bookings",
        ["territory_id", "starts_at"],
        postgresql_include=_FACTS,
        postgresql_where=sa.text("status IN ('booked', 'fulfilled')"),
    )
    op.create_index(
        "ix_audit_events_search_territory",
        "audit_events",
        ["territory_id", "occurred_at"],
        postgresql_where=sa.text("action = 'search.run'"),
    )
    op.create_index(
        "ix_audit_events_search_territories",
        "audit_events",
        [sa.literal_column("(detail -> 'territory_ids')").label("territory_ids")],
        postgresql_using="gin",
        postgresql_ops={"territory_ids": "jsonb_path_ops"},
        postgresql_where=sa.text("action = 'search.run' AND territory_id IS NULL"),
    )
    op.create_index("ix_slots_site_start", "slots", ["site_id", "start_at"])
    op.create_index(
        "ix_en_sus_requests_territory_created_at",
        "en_sus_requests",
        ["territory_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_en_sus_requests_territory_created_at", table_name="en_sus_requests")
    op.drop_index("ix_slots_site_start", table_name="slots")
    op.drop_index("ix_audit_events_search_territories", table_name="audit_events")
    op.drop_index("ix_audit_events_search_territory", table_name="audit_events")
    op.drop_index("ix_bookings_territory_consultations", table_name="bookings")
    op.drop_index("ix_bookings_territory_booked_at", table_name="bookings")
    op.drop_index("ix_bookings_territory_created_at", table_name="bookings")
    op.drop_constraint(op.f("fk_bookings_territory_id_territories"), "bookings", type_="foreignkey")
    op.drop_column("bookings", "medecin_traitant_booked")
    op.drop_column("bookings", "search_distance_m")
    op.drop_column("bookings", "searched_at")
    op.drop_column("bookings", "starts_at")
    op.drop_column("bookings", "professional_id")
    op.drop_column("bookings", "territory_id")
