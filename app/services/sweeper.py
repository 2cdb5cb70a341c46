"""The background sweep (one task per app process, started by the lifespan in `app.main`).

Each pass runs the expiry statements of the domains that own them, each batch in its own short
transaction: `holds.expiry` (lapsed holds back to free), then `en_sus.expiry` (lapsed requests).
"""

import asyncio
import logging
import random

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.metrics import count_hold
from app.services.en_sus.expiry import expire_requests
from app.services.holds.expiry import expire_holds

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 5.0
SWEEP_BATCH = 500


async def sweep_once(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """One pass: holds then requests, each batch in its own short transaction."""
    holds_freed = requests_expired = 0
    while True:
        async with sessionmaker() as session, session.begin():
            freed = await expire_holds(session, SWEEP_BATCH)
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
