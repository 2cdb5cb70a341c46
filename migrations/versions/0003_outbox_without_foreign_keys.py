"""Outbox events without foreign keys: each cost a trigger a row on the slot-ingest hot path.

Justification: the outbox is append-only and its rows reference clients and territories that
are never deleted, only deactivated, so the two checks guarded nothing (about 12 µs an event).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(
        "fk_outbox_events_recipient_client_id_api_clients", "outbox_events", type_="foreignkey"
    )
    op.drop_constraint(
        "fk_outbox_events_territory_id_territories", "outbox_events", type_="foreignkey"
    )


def downgrade() -> None:
    op.create_foreign_key(
        "fk_outbox_events_recipient_client_id_api_clients",
        "outbox_events",
        "api_clients",
        ["recipient_client_id"],
        ["id"],
    )
    op.create_foreign_key(
        "fk_outbox_events_territory_id_territories",
        "outbox_events",
        "territories",
        ["territory_id"],
        ["id"],
    )
