"""Initial schema: extensions, the data model, its constraints and the append-only audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # cube + earthdistance: great-circle distance and KNN on ll_to_earth(lat, lon);
    # btree_gist: the slot overlap exclusion constraint mixes "=" on a uuid with "&&" on a range.
    op.execute("CREATE EXTENSION IF NOT EXISTS cube")
    op.execute("CREATE EXTENSION IF NOT EXISTS earthdistance")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "admin_users",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_users")),
        sa.UniqueConstraint("email", name=op.f("uq_admin_users_email")),
    )
    op.create_table(
        "api_clients",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("key_prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'regulator', 'practice_software', 'sas_platform')",
            name=op.f("ck_api_clients_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_clients_key_hash")),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_api_clients_key_prefix")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_client_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("resource_type", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("territory_id", sa.Uuid(), nullable=True),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(
        "ix_audit_events_actor_id", "audit_events", ["actor_client_id", "id"], unique=False
    )
    op.create_index(
        "ix_audit_events_resource", "audit_events", ["resource_type", "resource_id"], unique=False
    )
    op.create_table(
        "communes",
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("postcodes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("population", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.CheckConstraint(
            "(lat IS NULL) = (lon IS NULL)", name=op.f("ck_communes_centroid_complete")
        ),
        sa.CheckConstraint(
            "lat IS NULL OR lat BETWEEN -90 AND 90", name=op.f("ck_communes_lat_range")
        ),
        sa.CheckConstraint(
            "lon IS NULL OR lon BETWEEN -180 AND 180", name=op.f("ck_communes_lon_range")
        ),
        sa.PrimaryKeyConstraint("insee_code", name=op.f("pk_communes")),
    )
    op.create_table(
        "professionals",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=False),
        sa.Column("family_name", sa.Text(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=False),
        sa.Column("profession", sa.Text(), nullable=False),
        sa.Column("specialty", sa.Text(), nullable=True),
        sa.Column("sas_participant", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("accepts_en_sus", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("weekly_snp_cap", sa.Integer(), server_default="20", nullable=False),
        sa.Column("languages", postgresql.ARRAY(sa.Text()), server_default="{fr}", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("rpps ~ '^[0-9]{11}$'", name=op.f("ck_professionals_rpps_format")),
        sa.CheckConstraint("weekly_snp_cap >= 0", name=op.f("ck_professionals_weekly_snp_cap")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_professionals")),
        sa.UniqueConstraint("rpps", name=op.f("uq_professionals_rpps")),
    )
    op.create_table(
        "territories",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("finess", sa.String(length=9), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.Text(), server_default="Europe/Paris", nullable=False),
        sa.Column("radius_km", sa.Numeric(precision=6, scale=2, asdecimal=False), nullable=True),
        sa.Column(
            "enlargement_km", sa.Numeric(precision=6, scale=2, asdecimal=False), nullable=True
        ),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "enlargement_km IS NULL OR (enlargement_km >= 0 AND enlargement_km <= 200)",
            name=op.f("ck_territories_enlargement"),
        ),
        sa.CheckConstraint(
            "radius_km IS NULL OR (radius_km > 0 AND radius_km <= 200)",
            name=op.f("ck_territories_radius"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_territories")),
        sa.UniqueConstraint("finess", name=op.f("uq_territories_finess")),
    )
    op.create_table(
        "api_client_professionals",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_clients.id"],
            name=op.f("fk_api_client_professionals_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_api_client_professionals_professional_id_professionals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "client_id", "professional_id", name=op.f("pk_api_client_professionals")
        ),
    )
    op.create_index(
        op.f("ix_api_client_professionals_professional_id"),
        "api_client_professionals",
        ["professional_id"],
        unique=False,
    )
    op.create_table(
        "api_client_territories",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("territory_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_clients.id"],
            name=op.f("fk_api_client_territories_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_api_client_territories_territory_id_territories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "client_id", "territory_id", name=op.f("pk_api_client_territories")
        ),
    )
    op.create_index(
        op.f("ix_api_client_territories_territory_id"),
        "api_client_territories",
        ["territory_id"],
        unique=False,
    )
    op.create_table(
        "en_sus_requests",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("territory_id", sa.Uuid(), nullable=False),
        sa.Column("regulator_client_id", sa.Uuid(), nullable=False),
        sa.Column("criteria", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_by_professional_id", sa.Uuid(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'accepted') = (accepted_by_professional_id IS NOT NULL)",
            name=op.f("ck_en_sus_requests_accepted_has_professional"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'expired', 'cancelled')",
            name=op.f("ck_en_sus_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by_professional_id"],
            ["professionals.id"],
            name=op.f("fk_en_sus_requests_accepted_by_professional_id_professionals"),
        ),
        sa.ForeignKeyConstraint(
            ["regulator_client_id"],
            ["api_clients.id"],
            name=op.f("fk_en_sus_requests_regulator_client_id_api_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_en_sus_requests_territory_id_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_en_sus_requests")),
    )
    op.create_index(
        op.f("ix_en_sus_requests_territory_id"), "en_sus_requests", ["territory_id"], unique=False
    )
    op.create_table(
        "idempotency_records",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_clients.id"],
            name=op.f("fk_idempotency_records_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", "key", name=op.f("pk_idempotency_records")),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "event_id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("recipient_client_id", sa.Uuid(), nullable=True),
        sa.Column("territory_id", sa.Uuid(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_client_id"],
            ["api_clients.id"],
            name=op.f("fk_outbox_events_recipient_client_id_api_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_outbox_events_territory_id_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
    )
    op.create_index(
        "ix_outbox_events_pending_delivery",
        "outbox_events",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_events_recipient_id",
        "outbox_events",
        ["recipient_client_id", "id"],
        unique=False,
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("territory_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("postcode", sa.String(length=5), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("timezone", sa.Text(), server_default="Europe/Paris", nullable=False),
        sa.Column("accessible", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("postcode ~ '^[0-9]{5}$'", name=op.f("ck_sites_postcode_format")),
        sa.CheckConstraint("lat BETWEEN -90 AND 90", name=op.f("ck_sites_lat_range")),
        sa.CheckConstraint("lon BETWEEN -180 AND 180", name=op.f("ck_sites_lon_range")),
        sa.ForeignKeyConstraint(
            ["territory_id"], ["territories.id"], name=op.f("fk_sites_territory_id_territories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_index(
        "ix_sites_earth",
        "sites",
        [sa.literal_column("ll_to_earth(lat, lon)")],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(op.f("ix_sites_territory_id"), "sites", ["territory_id"], unique=False)
    op.create_table(
        "site_professionals",
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.Text(), server_default="effecteur", nullable=False),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_site_professionals_professional_id_professionals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_site_professionals_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("site_id", "professional_id", name=op.f("pk_site_professionals")),
    )
    op.create_index(
        op.f("ix_site_professionals_professional_id"),
        "site_professionals",
        ["professional_id"],
        unique=False,
    )
    op.create_table(
        "slots",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("source_client_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.Uuid(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modality", sa.Text(), nullable=False),
        sa.Column("labels", postgresql.ARRAY(sa.Text()), server_default="{SNP}", nullable=False),
        sa.Column("status", sa.Text(), server_default="free", nullable=False),
        sa.Column("hold_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("booking_url", sa.Text(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        postgresql.ExcludeConstraint(
            (sa.column("professional_id"), "="),
            (sa.text("tstzrange(start_at, end_at)"), "&&"),
            where=sa.text("status <> 'cancelled'"),
            using="gist",
            name="ex_slots_professional_overlap",
        ),
        sa.CheckConstraint(
            "labels <@ ARRAY['PUBLIC','PRO','SNP','CPTS']::text[]", name=op.f("ck_slots_labels")
        ),
        sa.CheckConstraint("modality IN ('AMB', 'HH', 'VR')", name=op.f("ck_slots_modality")),
        sa.CheckConstraint(
            "status <> 'held' OR hold_expires_at IS NOT NULL", name=op.f("ck_slots_held_has_expiry")
        ),
        sa.CheckConstraint(
            "status IN ('free', 'held', 'booked', 'cancelled')", name=op.f("ck_slots_status")
        ),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_slots_end_after_start")),
        sa.CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180",
            name=op.f("ck_slots_lat_lon_range"),
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_slots_professional_id_professionals"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_slots_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["source_client_id"],
            ["api_clients.id"],
            name=op.f("fk_slots_source_client_id_api_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint("source_client_id", "external_id", name="uq_slots_source_external_id"),
    )
    op.create_index(
        "ix_slots_hold_expiry",
        "slots",
        ["hold_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'held'"),
    )
    op.create_index(
        "ix_slots_open_earth_time",
        "slots",
        [
            sa.literal_column("ll_to_earth(lat, lon)"),
            sa.literal_column("tstzrange(start_at, end_at)"),
        ],
        unique=False,
        postgresql_using="gist",
        postgresql_where=sa.text("status IN ('free', 'held')"),
    )
    op.create_index(
        "ix_slots_site_open_start",
        "slots",
        ["site_id", "start_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('free', 'held')"),
    )
    op.create_index(
        "ix_slots_source_start", "slots", ["source_client_id", "start_at"], unique=False
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("slot_id", sa.Uuid(), nullable=False),
        sa.Column("regulator_client_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), server_default="held", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("patient", sa.LargeBinary(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('held','released','expired','booked','fulfilled','noshow','cancelled')",
            name=op.f("ck_bookings_status"),
        ),
        sa.ForeignKeyConstraint(
            ["regulator_client_id"],
            ["api_clients.id"],
            name=op.f("fk_bookings_regulator_client_id_api_clients"),
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.id"], name=op.f("fk_bookings_slot_id_slots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    op.create_index(
        "ix_bookings_expiry",
        "bookings",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'held'"),
    )
    op.create_index(
        "uq_bookings_active_slot",
        "bookings",
        ["slot_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('held', 'booked', 'fulfilled', 'noshow')"),
    )
    op.create_index(
        "uq_bookings_idempotency",
        "bookings",
        ["regulator_client_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.execute(
        """
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    op.drop_index(
        "uq_bookings_idempotency",
        table_name="bookings",
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.drop_index(
        "uq_bookings_active_slot",
        table_name="bookings",
        postgresql_where=sa.text("status IN ('held', 'booked', 'fulfilled', 'noshow')"),
    )
    op.drop_index(
        "ix_bookings_expiry", table_name="bookings", postgresql_where=sa.text("status = 'held'")
    )
    op.drop_table("bookings")
    op.drop_index("ix_slots_source_start", table_name="slots")
    op.drop_index(
        "ix_slots_site_open_start",
        table_name="slots",
        postgresql_where=sa.text("status IN ('free', 'held')"),
    )
    op.drop_index(
        "ix_slots_open_earth_time",
        table_name="slots",
        postgresql_using="gist",
        postgresql_where=sa.text("status IN ('free', 'held')"),
    )
    op.drop_index(
        "ix_slots_hold_expiry", table_name="slots", postgresql_where=sa.text("status = 'held'")
    )
    op.drop_table("slots")
    op.drop_index(op.f("ix_site_professionals_professional_id"), table_name="site_professionals")
    op.drop_table("site_professionals")
    op.drop_index(op.f("ix_sites_territory_id"), table_name="sites")
    op.drop_index("ix_sites_earth", table_name="sites", postgresql_using="gist")
    op.drop_table("sites")
    op.drop_index("ix_outbox_events_recipient_id", table_name="outbox_events")
    op.drop_index(
        "ix_outbox_events_pending_delivery",
        table_name="outbox_events",
        postgresql_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
    )
    op.drop_table("outbox_events")
    op.drop_table("idempotency_records")
    op.drop_index(op.f("ix_en_sus_requests_territory_id"), table_name="en_sus_requests")
    op.drop_table("en_sus_requests")
    op.drop_index(
        op.f("ix_api_client_territories_territory_id"), table_name="api_client_territories"
    )
    op.drop_table("api_client_territories")
    op.drop_index(
        op.f("ix_api_client_professionals_professional_id"), table_name="api_client_professionals"
    )
    op.drop_table("api_client_professionals")
    op.drop_table("territories")
    op.drop_table("professionals")
    op.drop_table("communes")
    op.drop_index("ix_audit_events_resource", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_id", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("api_clients")
    op.drop_table("admin_users")
