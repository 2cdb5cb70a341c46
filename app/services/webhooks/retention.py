"""Retention of events and deliveries: the purge job (one task per app process, started by the
lifespan in `app.main`; one process purges at a time).

Rules: an outbox event older than EVENT_RETENTION_DAYS (by `occurred_at`) is deleted with its
deliveries once each of them is delivered, or failed and older than
FAILED_DELIVERY_RETENTION_DAYS (a failed delivery stays visible, and replayable, that long); a
pending delivery keeps its event however old. An event without a delivery (a recipient that
reads the feed only, or whose endpoint was disabled) goes by age alone.

How: the events are walked in id order from the oldest, a batch per short transaction, until a
batch reaches events younger than the retention (ids follow the insertion order, so no index on
`occurred_at` is needed, and none is paid for on the write path; an event whose transaction
started long before its id was taken is purged a pass later). A transaction-scoped advisory lock
is the lease: a process that does not get it leaves the pass to the one that has it.
"""

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.background import NEVER, Stopping
from app.core.db_faults import log_background_failure

logger = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 300.0
PURGE_BATCH = 1000
# pg_try_advisory_xact_lock key of the purge ("snp-retention" as an int).
_LEASE_KEY = 0x736E7072


@dataclass(frozen=True)
class Purged:
    events: int
    deliveries: int


_PURGE = text(
    """
    WITH cut AS (
        SELECT now() - CAST(:retention AS interval) AS events,
               now() - CAST(:failed_retention AS interval) AS failed
    ), head AS (
        SELECT e.id, e.occurred_at FROM outbox_events e
        WHERE e.id > :after ORDER BY e.id LIMIT :batch
    ), old AS (
        SELECT h.id,
               (SELECT count(*) FROM webhook_deliveries d WHERE d.outbox_event_id = h.id) AS n
        FROM head h, cut
        WHERE h.occurred_at < cut.events
          AND NOT EXISTS (
              SELECT 1 FROM webhook_deliveries d
              WHERE d.outbox_event_id = h.id
                AND (d.status = 'pending' OR d.status = 'failed' AND h.occurred_at >= cut.failed))
    ), gone_deliveries AS (
        -- Checked again on the row (a replay may have made it pending since the snapshot).
        DELETE FROM webhook_deliveries d USING old
        WHERE d.outbox_event_id = old.id AND d.status <> 'pending'
        RETURNING d.outbox_event_id
    ), gone_events AS (
        -- Only with all its deliveries (none made pending meanwhile).
        DELETE FROM outbox_events e USING old
        WHERE e.id = old.id
          AND old.n = (SELECT count(*) FROM gone_deliveries g WHERE g.outbox_event_id = old.id)
        RETURNING e.id
    )
    SELECT (SELECT max(id) FROM head) AS last_id,
           (SELECT count(*) FROM head) AS seen,
           (SELECT count(*) FROM head, cut WHERE head.occurred_at >= cut.events) AS young,
           (SELECT count(*) FROM gone_events) AS events,
           (SELECT count(*) FROM gone_deliveries) AS deliveries
    """
)


async def purge_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    retention_days: int,
    failed_retention_days: int,
    batch: int = PURGE_BATCH,
) -> Purged | None:
    """One pass over the old events; None when another process holds the lease."""
    params = {
        "retention": timedelta(days=retention_days),
        "failed_retention": timedelta(days=max(failed_retention_days, retention_days)),
        "batch": batch,
        "after": 0,
    }
    events = deliveries = 0
    while True:
        async with sessionmaker() as session, session.begin():
            leased = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LEASE_KEY}
            )
            if not leased:
                return None
            row = (await session.execute(_PURGE, params)).one()
        events += row.events
        deliveries += row.deliveries
        if row.young or row.seen < batch:
            return Purged(events, deliveries)
        params["after"] = row.last_id


async def run_retention(
    sessionmaker: async_sessionmaker[AsyncSession],
    retention_days: int,
    failed_retention_days: int,
    interval: float = PURGE_INTERVAL_SECONDS,
    stopping: Stopping = NEVER,
) -> None:
    """Purge every `interval` seconds (with jitter) until the process stops (between two
    passes); a failed pass is logged."""
    while not await stopping.sleep(interval * random.uniform(0.5, 1.0)):  # noqa: S311 (jitter)
        try:
            purged = await purge_once(sessionmaker, retention_days, failed_retention_days)
            if purged and (purged.events or purged.deliveries):
                logger.info(
                    "retention: %d events and %d deliveries purged",
                    purged.events,
                    purged.deliveries,
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the loop must outlive a database restart
            log_background_failure(logger, "retention purge", exc)
