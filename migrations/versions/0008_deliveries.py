"""Webhook deliveries: one row per (outbox event, recipient with a webhook), written by a trigger
in the statement that writes the event, and a NOTIFY that wakes the delivery workers at commit.

A statement-level trigger (with its transition table) costs one INSERT … SELECT per writing
statement, COPY included, whatever the number of events; a client whose endpoint answered 410
is marked `webhook_disabled_at` and gets no more deliveries.

Revision ID: 0008_deliveries
Revises: 0007_client_keys
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_deliveries"
down_revision: str | None = "0007_client_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The slot an event is about (`id` in slot.* events, `slot_id` in hold.* and booking.*), else
# its en-sus request: a client receives the events of one such key in order.
_ORDERING_KEY = (
    "CAST(CASE WHEN e.type LIKE 'slot.%' THEN e.data->>'id' "
    "ELSE coalesce(e.data->>'slot_id', e.data->>'request_id') END AS uuid)"
)

_FUNCTION = f"""
CREATE FUNCTION outbox_events_to_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (outbox_event_id, client_id, ordering_key)
    SELECT e.id, e.recipient_client_id, {_ORDERING_KEY}
    FROM new_events e JOIN api_clients c ON c.id = e.recipient_client_id
    WHERE c.webhook_url IS NOT NULL AND c.active AND c.webhook_disabled_at IS NULL;
    IF FOUND THEN
        -- Delivered at commit only, once per transaction (same channel and payload).
        PERFORM pg_notify('webhook_deliveries', '');
    END IF;
    RETURN NULL;
END
$$
"""  # noqa: S608 (constants of this module only)


def upgrade() -> None:
    op.add_column(
        "api_clients",
        sa.Column("webhook_disabled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("outbox_event_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("ordering_key", sa.Uuid(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_webhook_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_clients.id"],
            name=op.f("fk_webhook_deliveries_client_id_api_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "outbox_event_id", "client_id", name="uq_webhook_deliveries_event_client"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_pending_order",
        "webhook_deliveries",
        ["client_id", "ordering_key", "outbox_event_id"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_webhook_deliveries_client_id", "webhook_deliveries", ["client_id", "id"])
    op.execute(_FUNCTION)
    op.execute(
        "CREATE TRIGGER outbox_events_to_deliveries AFTER INSERT ON outbox_events "
        "REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT "
        "EXECUTE FUNCTION outbox_events_to_deliveries()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_events_to_deliveries ON outbox_events")
    op.execute("DROP FUNCTION IF EXISTS outbox_events_to_deliveries()")
    op.drop_table("webhook_deliveries")
    op.drop_column("api_clients", "webhook_disabled_at")
