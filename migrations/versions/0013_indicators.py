"""CPTS indicators: the facts they count and their indexes (issue 14).

Reserved in the migration chain; its changes land with its issue.

Revision ID: 0013_indicators
Revises: 0012_admin
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0013_indicators"
down_revision: str | None = "0012_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
