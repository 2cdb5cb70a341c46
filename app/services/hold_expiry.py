"""The background sweep: expired holds back to free, lapsed en-sus requests to expired.

Expired holds are already free for searches and holds (their queries treat them as free), and
lapsed requests already read as expired; the sweep makes the rows say so and tells who should
know (`hold.expired` to the practice software, `request.expired` to the regulator and the
practices asked). Rows are leased
with `FOR UPDATE SKIP LOCKED`, so any number of app processes sweep side by side without
waiting on each other or on a regulator taking the same slot.
"""

import asyncio
import logging
import random

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.metrics import count_hold

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 5.0
SWEEP_BATCH = 500

_EXPIRE_HOLDS = text(
    """
    WITH due AS (
        SELECT s.id FROM slots s
        WHERE s.status = 'held' AND s.hold_expires_at < now()
        ORDER BY s.hold_expires_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), freed AS (
        UPDATE slots s SET status = 'free', hold_expires_at = NULL,
                           version = s.version + 1, updated_at = now()
        FROM due WHERE s.id = due.id AND s.status = 'held' AND s.hold_expires_at < now()
        RETURNING s.id, s.external_id, s.source_client_id, s.site_id
    ), lapsed AS (
        UPDATE bookings b SET status = 'expired', updated_at = now()
        FROM freed WHERE b.slot_id = freed.id AND b.status = 'held'
        RETURNING b.id, b.slot_id, b.regulator_client_id
    ), place AS (
        SELECT f.*, si.territory_id, l.id AS hold_id, l.regulator_client_id
        FROM lapsed l JOIN freed f ON f.id = l.slot_id JOIN sites si ON si.id = f.site_id
    ), events AS (
        INSERT INTO outbox_events (type, recipient_client_id, territory_id, data)
        SELECT 'hold.expired', p.source_client_id, p.territory_id,
               jsonb_build_object('hold_id', p.hold_id, 'slot_id', p.id,
                                  'external_id', p.external_id)
        FROM place p
    ), trail AS (
        INSERT INTO audit_events (actor, action, resource_type, resource_id, territory_id, detail)
        SELECT 'system:hold-expiry', 'hold.expire', 'hold', p.hold_id::text, p.territory_id,
               jsonb_build_object('slot_id', p.id, 'regulator_client_id', p.regulator_client_id)
        FROM place p
    )
    SELECT count(*) FROM freed
    """
)


_EXPIRE_REQUESTS = text(
    """
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
    ), events AS (
        INSERT INTO outbox_events (type, recipient_client_id, territory_id, data)
        SELECT 'request.expired', r.client_id, r.territory_id,
               jsonb_build_object('request_id', r.id, 'status', 'expired')
        FROM recipients r
    )
    SELECT count(*) FROM closed
    """
)


async def expire_holds(session: AsyncSession, batch: int = SWEEP_BATCH) -> int:
    """Free up to `batch` slots whose hold expired; their holds become `expired`.

    Rule: leased with SKIP LOCKED; a slot a regulator is taking right now is left to that
    regulator (its own conditional update treats the expired hold as free).
    """
    freed: int = (await session.execute(_EXPIRE_HOLDS, {"batch": batch})).scalar_one()
    return freed


async def expire_requests(session: AsyncSession, batch: int = SWEEP_BATCH) -> int:
    """Mark up to `batch` open en-sus requests past their expiry `expired` and tell who was told
    of them (rows leased with SKIP LOCKED)."""
    expired: int = (await session.execute(_EXPIRE_REQUESTS, {"batch": batch})).scalar_one()
    return expired


async def sweep_once(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """One pass: holds then requests, each batch in its own short transaction."""
    holds_freed = requests_expired = 0
    while True:
        async with sessionmaker() as session, session.begin():
            freed = await expire_holds(session)
        holds_freed += freed
        if freed < SWEEP_BATCH:
            break
    while True:
        async with sessionmaker() as session, session.begin():
            expired = await expire_requests(session, SWEEP_BATCH)
        requests_expired += expired
        if expired < SWEEP_BATCH:
            break
    return holds_freed, requests_expired


async def run_sweeper(
    sessionmaker: async_sessionmaker[AsyncSession], interval: float = SWEEP_INTERVAL_SECONDS
) -> None:
    """Sweep every `interval` seconds (with jitter) until cancelled; a failed pass is logged."""
    while True:
        try:
            holds_freed, requests_expired = await sweep_once(sessionmaker)
            count_hold("expired", holds_freed)
            if holds_freed or requests_expired:
                logger.info(
                    "expiry sweep: %d holds freed, %d en-sus requests expired",
                    holds_freed,
                    requests_expired,
                )
        except asyncio.CancelledError:
            raise
        except Exception:  # the loop must outlive a database restart
            logger.exception("expiry sweep failed; retrying at the next interval")
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))  # noqa: S311 (jitter only)
