"""SMART Scheduling Links publication settings (issue 17).

Reserved in the migration chain; its changes land with its issue.

Revision ID: 0015_smart_publication
Revises: 0014_watches
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0015_smart_publication"
down_revision: str | None = "0014_watches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
