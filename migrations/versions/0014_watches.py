"""Watches of a search (issue 17).

Reserved in the migration chain; its changes land with its issue.

Revision ID: 0014_watches
Revises: 0013_indicators
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0014_watches"
down_revision: str | None = "0013_indicators"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
