"""The background sweep (one task per app process, started by the lifespan in `app.main`).

Each pass runs the expiry statements of the domains that own them, each batch in its own short
transaction: `holds.expiry` (lapsed holds back to free), then `en_sus.expiry` (lapsed requests),
then `core.idempotency.expire_records` (Idempotency-Key records past IDEMPOTENCY_TTL_SECONDS),
then `privacy.purge` (the sealed patient data of bookings and en-sus requests long over, past
PATIENT_DATA_RETENTION_DAYS), then `watches.store.purge_watches` (watches over for a day, with
their sealed search).
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.background import NEVER, Stopping
from app.core.db_faults import Backoff, log_background_failure
from app.core.idempotency import DEFAULT_TTL_SECONDS, expire_records
from app.core.metrics import count_hold
from app.services.en_sus.expiry import expire_requests
from app.services.holds.expiry import expire_holds
from app.services.privacy.purge import purge_bookings, purge_requests
from app.services.watches.store import purge_watches

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 5.0
SWEEP_BATCH = 500
DEFAULT_RETENTION_DAYS = 90


@dataclass(frozen=True)
class Swept:
    holds_freed: int
    requests_expired: int
    idempotency_records_deleted: int
    patient_data_purged: int = 0
    watches_purged: int = 0


async def _drain(
    sessionmaker: async_sessionmaker[AsyncSession],
    step: Callable[[AsyncSession], Awaitable[int]],
) -> int:
    """Run `step` in short transactions until a batch comes back short."""
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            done = await step(session)
        total += done
        if done < SWEEP_BATCH:
            return total


async def sweep_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    idempotency_ttl_seconds: float = DEFAULT_TTL_SECONDS,
    patient_data_retention_days: int = DEFAULT_RETENTION_DAYS,
) -> Swept:
    """One pass: holds, then requests, then idempotency records, each batch in its own short
    transaction."""
    return Swept(
        holds_freed=await _drain(sessionmaker, lambda s: expire_holds(s, SWEEP_BATCH)),
        requests_expired=await _drain(sessionmaker, lambda s: expire_requests(s, SWEEP_BATCH)),
        idempotency_records_deleted=await _drain(
            sessionmaker, lambda s: expire_records(s, idempotency_ttl_seconds, SWEEP_BATCH)
        ),
        patient_data_purged=(
            await _drain(
                sessionmaker, lambda s: purge_bookings(s, patient_data_retention_days, SWEEP_BATCH)
            )
            + await _drain(
                sessionmaker, lambda s: purge_requests(s, patient_data_retention_days, SWEEP_BATCH)
            )
        ),
        watches_purged=await _drain(sessionmaker, lambda s: purge_watches(s, SWEEP_BATCH)),
    )


async def run_sweeper(
    sessionmaker: async_sessionmaker[AsyncSession],
    interval: float = SWEEP_INTERVAL_SECONDS,
    idempotency_ttl_seconds: float = DEFAULT_TTL_SECONDS,
    patient_data_retention_days: int = DEFAULT_RETENTION_DAYS,
    stopping: Stopping = NEVER,
) -> None:
    """Sweep every `interval` seconds (with jitter) until the process stops (between two passes);
    after a failed pass (logged) the wait doubles, up to 30 s, until a pass succeeds."""
    backoff = Backoff(interval)
    while not stopping.is_set():
        wait = interval
        try:
            swept = await sweep_once(
                sessionmaker, idempotency_ttl_seconds, patient_data_retention_days
            )
            count_hold("expired", swept.holds_freed)
            if any(vars(swept).values()):
                logger.info(
                    "expiry sweep: %d holds freed, %d en-sus requests expired, "
                    "%d idempotency records deleted, %d patient records purged, "
                    "%d watches purged",
                    swept.holds_freed,
                    swept.requests_expired,
                    swept.idempotency_records_deleted,
                    swept.patient_data_purged,
                    swept.watches_purged,
                )
            backoff.succeeded()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the loop must outlive a database restart
            log_background_failure(logger, "expiry sweep", exc)
            wait = max(interval, backoff.failed())
        await stopping.sleep(wait * random.uniform(0.8, 1.2))  # noqa: S311 (jitter only)
