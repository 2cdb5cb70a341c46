"""Key rotation without losing identity: an API client keeps its previous key's hash for a grace
period after a rotation (`POST /v1/clients/{id}/rotate-key`).

Revision ID: 0007_client_keys
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_client_keys"
down_revision: str | None = "0006_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_clients", sa.Column("previous_key_hash", sa.Text(), nullable=True))
    op.add_column(
        "api_clients",
        sa.Column("previous_key_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_unique_constraint(
        op.f("uq_api_clients_previous_key_hash"), "api_clients", ["previous_key_hash"]
    )
    op.create_check_constraint(
        op.f("ck_api_clients_previous_key_has_expiry"),
        "api_clients",
        "previous_key_hash IS NULL OR previous_key_expires_at IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_api_clients_previous_key_has_expiry"), "api_clients", "check")
    op.drop_constraint(op.f("uq_api_clients_previous_key_hash"), "api_clients", "unique")
    op.drop_column("api_clients", "previous_key_expires_at")
    op.drop_column("api_clients", "previous_key_hash")
