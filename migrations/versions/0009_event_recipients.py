"""Events per recipient, webhook secret rotation (issue 11).

Reserved in the migration chain; its changes land with its issue.

Revision ID: 0009_event_recipients
Revises: 0008_deliveries
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0009_event_recipients"
down_revision: str | None = "0008_deliveries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
