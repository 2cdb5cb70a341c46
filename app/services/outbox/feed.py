"""The event feed: a client's own events after a cursor, for clients that poll instead of
receiving webhooks (`GET /v1/events`).

Rules:
- scoped like the webhooks: the rows whose recipient is the calling client, each built by
  `outbox.bodies.event_body` (same ids and bodies as its deliveries; the patient minimum to the
  entitled recipients only, each disclosure audited);
- a cursor never skips an event that committed late. Ids (and `occurred_at`) are taken when a
  row is written, not when its transaction commits, so paging by id alone would pass over a
  row of a transaction still running and never come back for it. The feed serves only rows of
  transactions older than the oldest one still running (`HORIZON`: the snapshot's xmin,
  passing over transactions of other databases): those are all over, visible to this
  statement, and no row with such a txid can ever appear later; it orders them by (txid, id)
  and the cursor is that pair, sealed (`core.pagination`). A transaction of this database left
  open holds the feed back (never forward): its rows, and everything after, are served once it
  ends;
- it reaches back `EVENT_RETENTION_DAYS` (`retained_since`): older rows are purged.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.crypto import PatientCipher
from app.core.pagination import decode_bigint_pair_cursor, encode_bigint_pair_cursor
from app.schemas.event import EventFeed
from app.services.outbox.bodies import EVENT_COLUMNS, PATIENT_JOIN, audit_disclosures, event_body

# The horizon: every transaction id below it is over (and, if committed, visible to this
# statement), and no row with such a txid can appear later. It is the snapshot's oldest running
# transaction (`pg_snapshot_xmin`), except that a running transaction known to belong to
# another database of the server (`pg_stat_activity`) is passed over: it never writes our
# outbox, and a long one elsewhere on a shared server would stall the feed. A transaction not
# known so (finished since, prepared, or hidden from this role) holds the horizon: unknown
# never moves it forward. Read as bigint, like `outbox_events.txid`.
HORIZON = """
    SELECT CAST(CAST(least(
        pg_snapshot_xmax(snap.s),
        (SELECT min(x.xid) FROM pg_snapshot_xip(snap.s) AS x(xid)
         WHERE NOT EXISTS (
             SELECT 1 FROM pg_stat_activity a
             WHERE a.backend_xid = xid(x.xid)
               AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())))
    ) AS text) AS bigint) AS txid
    FROM (SELECT pg_current_snapshot() AS s) AS snap
"""

_PAGE = text(
    f"""
    WITH horizon AS ({HORIZON})
    SELECT e.id, e.txid, {EVENT_COLUMNS}
    FROM outbox_events e {PATIENT_JOIN}
    WHERE e.recipient_client_id = :client_id
      AND (e.txid, e.id) > (CAST(:txid AS bigint), CAST(:id AS bigint))
      AND e.txid < (SELECT txid FROM horizon)
      AND e.occurred_at >= :retained_since
    ORDER BY e.txid, e.id
    LIMIT :limit
    """  # noqa: S608 (built from constants only)
)


async def read_feed(
    session: AsyncSession,
    principal: Principal,
    cipher: PatientCipher,
    *,
    after: str | None,
    limit: int,
    retention_days: int,
) -> EventFeed:
    """The client's events after `after`, at most `limit`, in (transaction, id) order."""
    txid, event_row = (0, 0) if after is None else decode_bigint_pair_cursor(after, "query.after")
    retained_since = datetime.now(UTC) - timedelta(days=retention_days)
    rows = (
        await session.execute(
            _PAGE,
            {
                "client_id": principal.client_id,
                "txid": txid,
                "id": event_row,
                "retained_since": retained_since,
                "limit": limit,
            },
        )
    ).all()
    built = [event_body(row, cipher) for row in rows]
    await audit_disclosures(
        session,
        [b.disclosure for b in built if b.disclosure is not None],
        "feed",
        reader=principal,
    )
    next_after = encode_bigint_pair_cursor(rows[-1].txid, rows[-1].id) if rows else after
    return EventFeed(
        items=[b.body for b in built], next_after=next_after, retained_since=retained_since
    )
