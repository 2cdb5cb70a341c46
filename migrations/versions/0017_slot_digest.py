"""Slot digests for unchanged re-pushes (issue 15).

Reserved in the chain; filled by the work of issue 15.

Revision ID: 0017_slot_digest
Revises: 0016_search_index
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0017_slot_digest"
down_revision: str | None = "0016_search_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
