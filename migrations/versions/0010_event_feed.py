"""The event feed and delivery retention (issue 11).

`ix_webhook_deliveries_failed`: the admin's list of a client's failed deliveries
(`GET /v1/clients/{id}/deliveries?status=failed`, newest first) without walking its delivered
ones; small, as failed deliveries are few. The retention purge needs no index of its own (it
walks the events by id, see `app.services.webhooks.retention`).

Revision ID: 0010_event_feed
Revises: 0009_event_recipients
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_event_feed"
down_revision: str | None = "0009_event_recipients"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_failed",
        "webhook_deliveries",
        ["client_id", "id"],
        postgresql_where=sa.text("status = 'failed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_failed", table_name="webhook_deliveries")
