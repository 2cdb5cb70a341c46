"""The event feed and delivery retention (issue 11).

Reserved in the migration chain; its changes land with its issue.

Revision ID: 0010_event_feed
Revises: 0009_event_recipients
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0010_event_feed"
down_revision: str | None = "0009_event_recipients"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
