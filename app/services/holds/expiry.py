"""Where a hold expires: the sweep's statement that frees slots whose hold lapsed.

An expired hold is already free for searches and holds (the free rule in `slots.rules` treats
it as free); the sweep makes the rows say so and tells the practice software (`hold.expired`).
Rows are leased with `FOR UPDATE SKIP LOCKED`, so any number of app processes sweep side by
side without waiting on each other or on a regulator taking the same slot.
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.outbox.tail import to_each, written_with
from app.services.slots.rules import lapsed_hold

_EXPIRE_HOLDS_TAIL = written_with(
    events=f"""
        SELECT 'hold.expired', r.recipient_client_id, p.territory_id,
               jsonb_build_object('hold_id', p.hold_id, 'slot_id', p.id,
                                  'external_id', p.external_id)
        FROM place p {to_each("p.source_client_id", "p.regulator_client_id")}
    """,  # noqa: S608 (built from constants only)
    audit="""
        SELECT CAST(NULL AS uuid), 'system:hold-expiry', 'hold.expire', 'hold', p.hold_id::text,
               p.territory_id,
               jsonb_build_object('slot_id', p.id, 'regulator_client_id', p.regulator_client_id)
        FROM place p
    """,
)

_EXPIRE_HOLDS = text(
    f"""
    WITH due AS (
        SELECT s.id FROM slots s
        WHERE {lapsed_hold("s", "statement_timestamp()")}
        ORDER BY s.hold_expires_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), freed AS (
        UPDATE slots s SET status = 'free', hold_expires_at = NULL,
                           version = s.version + 1, updated_at = statement_timestamp()
        FROM due WHERE s.id = due.id AND {lapsed_hold("s", "statement_timestamp()")}
        RETURNING s.id, s.external_id, s.source_client_id, s.site_id
    ), lapsed AS (
        UPDATE bookings b SET status = 'expired', updated_at = statement_timestamp()
        FROM freed WHERE b.slot_id = freed.id AND b.status = 'held'
        RETURNING b.id, b.slot_id, b.regulator_client_id
    ), place AS (
        SELECT f.*, si.territory_id, l.id AS hold_id, l.regulator_client_id
        FROM lapsed l JOIN freed f ON f.id = l.slot_id JOIN sites si ON si.id = f.site_id
    ), {_EXPIRE_HOLDS_TAIL}
    SELECT count(*) FROM freed
    """  # noqa: S608 (built from constants only)
)


async def expire_holds(session: AsyncSession, batch: int = 500) -> int:
    """Free up to `batch` slots whose hold expired; their holds become `expired`.

    Rule: leased with SKIP LOCKED; a slot a regulator is taking right now is left to that
    regulator (its own conditional update treats the expired hold as free).
    """
    freed: int = (await session.execute(_EXPIRE_HOLDS, {"batch": batch})).scalar_one()
    return freed
