"""Where an en-sus request expires: the sweep's statement that closes lapsed open requests.

A lapsed request already reads as expired; the sweep makes the row say so and tells the
regulator and the practices asked (`request.expired`). Rows are leased with SKIP LOCKED.
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.outbox.tail import written_with

_EXPIRE_REQUESTS_TAIL = written_with(
    events="""
        SELECT 'request.expired', r.client_id, r.territory_id,
               jsonb_build_object('request_id', r.id, 'status', 'expired')
        FROM recipients r
    """,
)

_EXPIRE_REQUESTS = text(
    f"""
    WITH due AS (
        SELECT id FROM en_sus_requests
        WHERE status = 'open' AND expires_at <= now()
        ORDER BY expires_at LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), closed AS (
        UPDATE en_sus_requests r SET status = 'expired', updated_at = now()
        FROM due WHERE r.id = due.id AND r.status = 'open'
        RETURNING r.*
    ), recipients AS (
        SELECT c.id, c.territory_id, c.regulator_client_id AS client_id FROM closed c
        UNION
        SELECT c.id, c.territory_id, acp.client_id
        FROM closed c
        CROSS JOIN LATERAL jsonb_array_elements(c.criteria -> 'professionals') AS p(item)
        JOIN api_client_professionals acp
          ON acp.professional_id = CAST(p.item ->> 'id' AS uuid)
        JOIN api_clients ac
          ON ac.id = acp.client_id AND ac.active AND ac.role = 'practice_software'
    ), {_EXPIRE_REQUESTS_TAIL}
    SELECT count(*) FROM closed
    """  # noqa: S608 (built from constants only)
)


async def expire_requests(session: AsyncSession, batch: int = 500) -> int:
    """Mark up to `batch` open en-sus requests past their expiry `expired` and tell who was told
    of them (rows leased with SKIP LOCKED)."""
    expired: int = (await session.execute(_EXPIRE_REQUESTS, {"batch": batch})).scalar_one()
    return expired
