"""Drop the slots' copy of their site's coordinates: no query reads it any more.

The search locates a slot by its site (0004 dropped the last index on the copy), yet every slot
write carried it and every site move rewrote all the site's slots.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_slots_lat_lon_range"), "slots", type_="check")
    op.drop_column("slots", "lon")
    op.drop_column("slots", "lat")


def downgrade() -> None:
    op.add_column("slots", sa.Column("lat", sa.Double(), nullable=True))
    op.add_column("slots", sa.Column("lon", sa.Double(), nullable=True))
    op.execute(
        "UPDATE slots s SET lat = si.lat, lon = si.lon FROM sites si WHERE si.id = s.site_id"
    )
    op.alter_column("slots", "lat", nullable=False)
    op.alter_column("slots", "lon", nullable=False)
    op.create_check_constraint(
        op.f("ck_slots_lat_lon_range"),
        "slots",
        "lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180",
    )
