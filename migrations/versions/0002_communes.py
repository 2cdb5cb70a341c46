"""Load every French commune (INSEE code, name, postcodes, population) from the shipped CSV.

Centroids are not in this file: an operator loads them (`python -m app load-centroids`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import csv
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMUNES_CSV = Path(__file__).resolve().parents[2] / "app" / "data" / "communes.csv"


def upgrade() -> None:
    with COMMUNES_CSV.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    # One statement over arrays rather than 35,000 INSERTs.
    op.get_bind().execute(
        sa.text(
            """
            INSERT INTO communes (insee_code, name, departement, postcodes, population)
            SELECT c, n, d, string_to_array(p, ' '), pop
            FROM unnest(CAST(:codes AS text[]), CAST(:names AS text[]), CAST(:deps AS text[]),
                        CAST(:postcodes AS text[]), CAST(:pops AS int[])) AS t(c, n, d, p, pop)
            ON CONFLICT (insee_code) DO NOTHING
            """
        ),
        {
            "codes": [r["insee_code"] for r in rows],
            "names": [r["name"] for r in rows],
            "deps": [r["departement"] for r in rows],
            "postcodes": [r["postcodes"] for r in rows],
            "pops": [int(r["population"] or 0) for r in rows],
        },
    )


def downgrade() -> None:
    op.execute("DELETE FROM communes")
