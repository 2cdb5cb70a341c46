"""Admin pages: sessions and login throttling (issue 13).

Reserved in the migration chain; its changes land with its issue.

Revision ID: 0012_admin
Revises: 0011_fhir
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "0012_admin"
down_revision: str | None = "0011_fhir"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
