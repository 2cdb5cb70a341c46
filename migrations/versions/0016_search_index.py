"""The in-memory search index's change feed (issue 15).

Reserved in the chain; filled by the work of issue 15.

Revision ID: 0016_search_index
Revises: 0015_smart_publication
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0016_search_index"
down_revision: str | None = "0015_smart_publication"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
