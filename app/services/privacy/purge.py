"""Purge the patient data of what is over: the sealed patient minimum of a booking whose
consultation ended more than `PATIENT_DATA_RETENTION_DAYS` ago (90 by default), the sealed
reason and criteria of an en-sus request closed as long ago.

Only the sealed columns go: the facts the indicators count (times, professional, statuses, who
booked) are plain columns and stay. Rows are leased (FOR UPDATE SKIP LOCKED) so every process
may run the purge; each batch writes one audit event with its count (never what was purged).
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.outbox.tail import written_with

_AUDIT = """
    SELECT CAST(NULL AS uuid), 'system:retention', 'patient_data.purge', CAST(:kind AS text),
           CAST(NULL AS text), CAST(NULL AS uuid),
           jsonb_build_object('count', count(*), 'retention_days', CAST(:days AS int))
    FROM purged HAVING count(*) > 0
"""

_PURGE_BOOKINGS = text(
    f"""
    WITH due AS (
        SELECT b.id FROM bookings b JOIN slots s ON s.id = b.slot_id
        WHERE b.patient IS NOT NULL
          AND s.end_at < statement_timestamp() - make_interval(days => CAST(:days AS int))
        LIMIT :batch
        FOR UPDATE OF b SKIP LOCKED
    ), purged AS (
        UPDATE bookings b SET patient = NULL FROM due WHERE b.id = due.id RETURNING b.id
    ), {written_with(audit=_AUDIT)}
    SELECT count(*) FROM purged
    """  # noqa: S608 (built from this module's constants only)
)

# A request is over when it is no longer open: expired, accepted or cancelled; its last change
# (`updated_at`) is when it closed.
_PURGE_REQUESTS = text(
    f"""
    WITH due AS (
        SELECT r.id FROM en_sus_requests r
        WHERE r.reason IS NOT NULL AND r.status <> 'open'
          AND r.updated_at < statement_timestamp() - make_interval(days => CAST(:days AS int))
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), purged AS (
        UPDATE en_sus_requests r SET reason = NULL FROM due WHERE r.id = due.id RETURNING r.id
    ), {written_with(audit=_AUDIT)}
    SELECT count(*) FROM purged
    """  # noqa: S608 (built from this module's constants only)
)


async def purge_bookings(session: AsyncSession, days: int, batch: int) -> int:
    """Drop the patient minimum of up to `batch` bookings whose consultation is long over."""
    params = {"days": days, "batch": batch, "kind": "booking"}
    purged: int = (await session.execute(_PURGE_BOOKINGS, params)).scalar_one()
    return purged


async def purge_requests(session: AsyncSession, days: int, batch: int) -> int:
    """Drop the sealed reason and criteria of up to `batch` en-sus requests long closed."""
    params = {"days": days, "batch": batch, "kind": "en_sus_request"}
    purged: int = (await session.execute(_PURGE_REQUESTS, params)).scalar_one()
    return purged
