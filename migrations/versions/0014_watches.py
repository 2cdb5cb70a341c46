"""Watches of a search (issue 17): the watches table, the slot openings' index of the outbox
and the NOTIFY that wakes the processes serving watch streams.

The trigger `outbox_events_to_watches` NOTIFYs `slot_openings` at commit (once per
transaction: same channel and payload) when a statement wrote an event that may open a slot;
the processes then read the new events by (txid, id) after their cursor, through the partial
index `ix_outbox_events_slot_openings`.

Revision ID: 0014_watches
Revises: 0013_indicators
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_watches"
down_revision: str | None = "0013_indicators"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration never changes): app.models.outbox_event.SLOT_OPENINGS_WHERE today.
_OPENINGS = (
    "type IN ('slot.created', 'slot.updated', 'slot.transferred', 'hold.released', "
    "'hold.expired', 'booking.cancelled')"
)

_FUNCTION = f"""
CREATE FUNCTION outbox_events_to_watches() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_events WHERE {_OPENINGS}) THEN
        PERFORM pg_notify('slot_openings', '');
    END IF;
    RETURN NULL;
END
$$
"""  # noqa: S608 (constants of this module only)


def upgrade() -> None:
    op.create_table(
        "watches",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("regulator_client_id", sa.Uuid(), nullable=False),
        sa.Column("query_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("hold", sa.Boolean(), nullable=False),
        sa.Column("start_txid", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("held_event", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["regulator_client_id"],
            ["api_clients.id"],
            name=op.f("fk_watches_regulator_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["bookings.id"],
            name=op.f("fk_watches_hold_id_bookings"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watches")),
    )
    op.create_index("ix_watches_regulator_open", "watches", ["regulator_client_id", "expires_at"])
    op.create_index(
        "ix_outbox_events_slot_openings",
        "outbox_events",
        ["txid", "id"],
        postgresql_where=sa.text(_OPENINGS),
    )
    op.execute(_FUNCTION)
    op.execute(
        "CREATE TRIGGER outbox_events_to_watches AFTER INSERT ON outbox_events "
        "REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT "
        "EXECUTE FUNCTION outbox_events_to_watches()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_events_to_watches ON outbox_events")
    op.execute("DROP FUNCTION outbox_events_to_watches()")
    op.drop_index("ix_outbox_events_slot_openings", table_name="outbox_events")
    op.drop_index("ix_watches_regulator_open", table_name="watches")
    op.drop_table("watches")
