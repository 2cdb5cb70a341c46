"""Patient data sealed and minimal (issue 9): en-sus distances out of the clear, idempotency
records keyed and sealed, and the sweeps' indexes.

- en_sus_requests.criteria kept, in clear, each asked professional's distance to the patient and
  nearest site, nearest first: trilateration gives back the sealed location. New requests seal
  them with the reason; existing rows are stripped here (distances and sites dropped, the list
  put in id order; they cannot be sealed without the key, and are not needed once a request is
  answered).
- idempotency_records kept a plain SHA-256 of the body and most answers in clear. The digest is
  now keyed (HMAC) and every answer sealed (`response` is bytea). Existing records cannot be
  converted without the key: they are deleted, so a retry of a write made before the upgrade
  acts as a new request, as after the 24 h expiry that now applies to every record.
- Partial index on open en-sus requests by expiry, and an index on idempotency records by
  creation: the sweep reads both every few seconds in every process.

Revision ID: 0006_privacy
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_privacy"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STRIP_DISTANCES = """
    UPDATE en_sus_requests SET criteria = jsonb_set(
        criteria, '{professionals}',
        (SELECT coalesce(jsonb_agg(p.item - 'distance_km' - 'site' ORDER BY p.item ->> 'id'),
                         '[]'::jsonb)
         FROM jsonb_array_elements(criteria -> 'professionals') AS p(item)))
    WHERE jsonb_typeof(criteria -> 'professionals') = 'array'
"""


def upgrade() -> None:
    op.execute(_STRIP_DISTANCES)
    op.create_index(
        "ix_en_sus_requests_open_expires_at",
        "en_sus_requests",
        ["expires_at"],
        postgresql_where=sa.text("status = 'open'"),
    )
    op.execute("DELETE FROM idempotency_records")
    op.alter_column("idempotency_records", "body_sha256", new_column_name="body_digest")
    op.alter_column(
        "idempotency_records",
        "response",
        type_=sa.LargeBinary(),
        postgresql_using="NULL",
    )
    op.create_index("ix_idempotency_records_created_at", "idempotency_records", ["created_at"])


def downgrade() -> None:
    # The stripped distances are gone for good; sealed answers cannot go back to clear JSON.
    op.drop_index("ix_idempotency_records_created_at", table_name="idempotency_records")
    op.execute("DELETE FROM idempotency_records")
    op.alter_column(
        "idempotency_records",
        "response",
        type_=postgresql.JSONB(),
        postgresql_using="NULL",
    )
    op.alter_column("idempotency_records", "body_digest", new_column_name="body_sha256")
    op.drop_index("ix_en_sus_requests_open_expires_at", table_name="en_sus_requests")
