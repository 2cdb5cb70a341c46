"""Slot digests for unchanged re-pushes (issue 15).

`slots.digest` is a SHA-256 of the slot's canonical pushed fields (`app.models.slot.slot_digest`):
a push compares it with the digest of each item instead of reading and comparing every column,
so an unchanged re-push reads four columns a row and writes nothing. Existing rows get it here,
computed in SQL exactly as Python computes it (`DIGEST_SQL`).

A writer that changes a digested field without setting the digest (raw SQL outside the push)
gets it cleared by the trigger `slots_digest_stale`: a NULL digest is never trusted (the push
then compares the columns), so a stored digest never describes other values than the row's.

Revision ID: 0017_slot_digest
Revises: 0016_search_index
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_slot_digest"
down_revision: str | None = "0016_search_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The SQL twin of `app.models.slot.slot_digest` (a test holds them equal): the ids' 16 bytes,
# the times as big-endian int8 microseconds since the epoch, then modality, labels (distinct, in
# code-point order) and the URL marked present, UTF-8 and NUL-separated.
DIGEST_SQL = """
    sha256(
        uuid_send(professional_id) || uuid_send(site_id)
        || int8send((extract(epoch FROM start_at) * 1000000)::bigint)
        || int8send((extract(epoch FROM end_at) * 1000000)::bigint)
        || convert_to(modality, 'UTF8') || '\\x00'::bytea
        || convert_to(array_to_string(
               ARRAY(SELECT DISTINCT l COLLATE "C" FROM unnest(labels) AS l ORDER BY 1), ','),
               'UTF8')
        || '\\x00'::bytea
        || convert_to(CASE WHEN booking_url IS NULL THEN '-' ELSE '+' || booking_url END, 'UTF8'))
"""

_DIGESTED = "professional_id, site_id, start_at, end_at, modality, labels, booking_url"
_NEW = ", ".join(f"NEW.{c.strip()}" for c in _DIGESTED.split(","))
_OLD = ", ".join(f"OLD.{c.strip()}" for c in _DIGESTED.split(","))


def upgrade() -> None:
    op.add_column("slots", sa.Column("digest", sa.LargeBinary(), nullable=True))
    op.execute(f"UPDATE slots SET digest = {DIGEST_SQL}")  # noqa: S608 (constants only)
    op.execute(
        """
        CREATE FUNCTION slots_digest_stale() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.digest := NULL;
            RETURN NEW;
        END $$
        """
    )
    # Only rows whose digested fields change while the digest does not: the WHEN clause is
    # evaluated in C, so the push's updates (which set the digest) and the holds' status
    # updates never call the function.
    op.execute(
        f"""
        CREATE TRIGGER slots_digest_stale BEFORE UPDATE ON slots FOR EACH ROW
        WHEN (NEW.digest IS NOT DISTINCT FROM OLD.digest
              AND ({_NEW}) IS DISTINCT FROM ({_OLD}))
        EXECUTE FUNCTION slots_digest_stale()
        """  # noqa: S608 (constants only)
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS slots_digest_stale ON slots")
    op.execute("DROP FUNCTION IF EXISTS slots_digest_stale()")
    op.drop_column("slots", "digest")
