"""SAS FHIR interface: regulator accounts, CPTS identifiers, appointments to SAS (issue 12).

Reserved in the migration chain; its changes land with its issue.

Revision ID: 0011_fhir
Revises: 0010_event_feed
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0011_fhir"
down_revision: str | None = "0010_event_feed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
