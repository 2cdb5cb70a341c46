"""SMART Scheduling Links publication settings (issue 17).

Each territory says which slot labels it publishes at GET /smart/$bulk-publish (the open
SMART Scheduling Links standard): by default only `PUBLIC`; `SNP` and `CPTS` slots are for
regulators, so a territory must ask for them explicitly. An empty list publishes nothing.

Revision ID: 0015_smart_publication
Revises: 0014_watches
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_smart_publication"
down_revision: str | None = "0014_watches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "territories",
        sa.Column(
            "smart_labels",
            postgresql.ARRAY(sa.Text()),
            server_default="{PUBLIC}",
            nullable=False,
        ),
    )
    op.create_check_constraint(
        op.f("ck_territories_smart_labels"),
        "territories",
        "smart_labels <@ ARRAY['PUBLIC','PRO','SNP','CPTS']::text[]",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_territories_smart_labels"), "territories", type_="check")
    op.drop_column("territories", "smart_labels")
