"""SAS FHIR interface: regulator accounts, CPTS phone, appointments to SAS (issue 12).

- `sas_regulators`: the SAS identity of a regulator API client created by the SAS platform
  (flow INT_R02): national id (IDNPS) and/or SAS technical id, name and e-mail. A deactivated
  account may lose its national id to the account it is handed to (the guide's reattribution),
  so neither id is required.
- `territories.phone`: the CPTS's phone, published on its FHIR Organization (`+33…`).
- `sas_appointments`: the outbox of FHIR Appointments owed to the SAS (flow INT_R03). A row is
  written by a trigger on `bookings`, in the statement that books or moves a booking made by a
  SAS regulator, so it exists if and only if the change commits; a NOTIFY wakes the senders.
- `ix_slots_professional_open_start`: the FHIR Slot search reads by practitioner and time.

Revision ID: 0011_fhir
Revises: 0010_event_feed
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_fhir"
down_revision: str | None = "0010_event_feed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A booking's status moves the SAS must hear about: it was booked, or it left a booked state
# (fulfilled, noshow, cancelled). A hold that lapses or is released was never an appointment.
_FUNCTION = """
CREATE FUNCTION bookings_to_sas_appointments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('booked', 'fulfilled', 'noshow', 'cancelled')
       AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status)
       AND (NEW.status = 'booked' OR (TG_OP = 'UPDATE'
            AND OLD.status IN ('booked', 'fulfilled', 'noshow')))
    THEN
        -- The regulator's identifier as it is now (national id first): the SAS knows it so.
        INSERT INTO sas_appointments (booking_id, status, operator_system, operator_value)
        SELECT NEW.id, NEW.status,
               CASE WHEN r.national_id IS NOT NULL THEN 'urn:oid:1.2.250.1.71.4.2.1'
                    ELSE 'urn:oid:1.2.250.1.213.3.6' END,
               coalesce(r.national_id, r.technical_id)
        FROM sas_regulators r
        WHERE r.client_id = NEW.regulator_client_id
          AND coalesce(r.national_id, r.technical_id) IS NOT NULL;
        IF FOUND THEN
            PERFORM pg_notify('sas_appointments', '');
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.add_column("territories", sa.Column("phone", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_territories_phone_format"),
        "territories",
        "phone IS NULL OR phone ~ '^\\+33[1-9][0-9]{8}$'",
    )
    op.create_table(
        "sas_regulators",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("national_id", sa.Text(), nullable=True),
        sa.Column("technical_id", sa.Text(), nullable=True),
        sa.Column("family_name", sa.Text(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_clients.id"],
            name=op.f("fk_sas_regulators_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_sas_regulators")),
        sa.UniqueConstraint("national_id", name=op.f("uq_sas_regulators_national_id")),
        sa.UniqueConstraint("technical_id", name=op.f("uq_sas_regulators_technical_id")),
    )
    op.create_table(
        "sas_appointments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("operator_system", sa.Text(), nullable=False),
        sa.Column("operator_value", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'failed')", name=op.f("ck_sas_appointments_state")
        ),
        sa.CheckConstraint(
            "status IN ('booked', 'fulfilled', 'noshow', 'cancelled')",
            name=op.f("ck_sas_appointments_status"),
        ),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_sas_appointments_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sas_appointments")),
    )
    op.create_index(
        "ix_sas_appointments_due",
        "sas_appointments",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_sas_appointments_pending_booking",
        "sas_appointments",
        ["booking_id", "id"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_slots_professional_open_start",
        "slots",
        ["professional_id", "start_at"],
        postgresql_where=sa.text("status IN ('free', 'held')"),
    )
    op.execute(_FUNCTION)
    op.execute(
        # The WHEN spares the function call to every hold taken, released or expired.
        "CREATE TRIGGER bookings_to_sas_appointments AFTER INSERT OR UPDATE OF status "
        "ON bookings FOR EACH ROW "
        "WHEN (NEW.status IN ('booked', 'fulfilled', 'noshow', 'cancelled')) "
        "EXECUTE FUNCTION bookings_to_sas_appointments()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS bookings_to_sas_appointments ON bookings")
    op.execute("DROP FUNCTION IF EXISTS bookings_to_sas_appointments()")
    op.drop_index("ix_slots_professional_open_start", table_name="slots")
    op.drop_table("sas_appointments")
    op.drop_table("sas_regulators")
    op.drop_constraint(op.f("ck_territories_phone_format"), "territories", type_="check")
    op.drop_column("territories", "phone")
