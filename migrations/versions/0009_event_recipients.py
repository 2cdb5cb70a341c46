"""Events per recipient, the feed's index, webhook secret rotation (issue 11).

- One outbox row per (event, recipient) already: the regulator's rows are written by the event
  statements themselves (no schema change), and the trigger of 0008 gives each row with a
  webhook its delivery, unchanged. The feed and the deliveries scan by recipient: the feed in
  (transaction id, id) order, so `(recipient_client_id, txid, id)` replaces the
  `(recipient_client_id, id)` index.
- The outbox's own delivery columns (attempts, next_attempt_at, delivered_at, dead_at,
  last_error) and their partial index were never used: deliveries are `webhook_deliveries`
  rows (0008). Dropped.
- A rotated webhook secret keeps signing, beside the new one, until
  `previous_webhook_secret_expires_at` (24 h).

Revision ID: 0009_event_recipients
Revises: 0008_deliveries
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_event_recipients"
down_revision: str | None = "0008_deliveries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_outbox_events_pending_delivery", table_name="outbox_events")
    for column in ("attempts", "next_attempt_at", "delivered_at", "dead_at", "last_error"):
        op.drop_column("outbox_events", column)
    op.drop_index("ix_outbox_events_recipient_id", table_name="outbox_events")
    op.create_index(
        "ix_outbox_events_recipient_txid",
        "outbox_events",
        ["recipient_client_id", "txid", "id"],
    )
    op.add_column("api_clients", sa.Column("previous_webhook_secret", sa.Text(), nullable=True))
    op.add_column(
        "api_clients",
        sa.Column("previous_webhook_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_check_constraint(
        op.f("ck_api_clients_previous_webhook_secret_has_expiry"),
        "api_clients",
        "previous_webhook_secret IS NULL OR previous_webhook_secret_expires_at IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_api_clients_previous_webhook_secret_has_expiry"), "api_clients", type_="check"
    )
    op.drop_column("api_clients", "previous_webhook_secret_expires_at")
    op.drop_column("api_clients", "previous_webhook_secret")
    op.drop_index("ix_outbox_events_recipient_txid", table_name="outbox_events")
    op.create_index("ix_outbox_events_recipient_id", "outbox_events", ["recipient_client_id", "id"])
    op.add_column(
        "outbox_events",
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "outbox_events",
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column(
        "outbox_events", sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("outbox_events", sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox_events", sa.Column("last_error", sa.Text(), nullable=True))
    op.create_index(
        "ix_outbox_events_pending_delivery",
        "outbox_events",
        ["next_attempt_at"],
        postgresql_where=sa.text("delivered_at IS NULL AND dead_at IS NULL"),
    )
