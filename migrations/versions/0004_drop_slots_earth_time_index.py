"""Drop the slots' GiST index on location and time: the search walks sites instead.

The search walks the sites nearest first (GiST on sites) and probes each one's open slots by
`ix_slots_site_open_start`, which bounds its work by sites rather than slots. The GiST index on
(ll_to_earth(lat, lon), tstzrange) was then unused, and maintaining it was the largest cost of a
slot insert (a 5,000-row COPY: ~410 ms with it, ~120 ms without, measured on PostgreSQL 18).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_slots_open_earth_time", table_name="slots")


def downgrade() -> None:
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
