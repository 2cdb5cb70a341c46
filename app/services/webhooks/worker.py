"""The delivery worker: one task per app process (started by the lifespan in `app.main`).

It drains the due deliveries (lease a batch, send them concurrently, record the outcomes, again
while a batch came back), then waits for a NOTIFY on `webhook_deliveries` (sent at commit by the
trigger that writes deliveries, heard on a dedicated asyncpg connection) or the poll interval,
the next retry's due time or the poll interval, whichever comes first: the first attempt
leaves within moments of the commit, a retry on time, and a lost listener connection only
slows new deliveries down to the poll.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.background import NEVER, Stopping
from app.core.config import Settings
from app.core.crypto import cipher_for
from app.core.db import plain_url
from app.core.db_faults import Backoff, log_background_failure
from app.core.metrics import WEBHOOK_ATTEMPT_SECONDS, WEBHOOK_DELIVERIES
from app.services.outbox.bodies import Built, audit_disclosures, event_body
from app.services.webhooks import sql
from app.services.webhooks.schedule import next_delay
from app.services.webhooks.sender import Attempt, client, send

logger = logging.getLogger(__name__)

CHANNEL = "webhook_deliveries"
BATCH = 100
# Longer than any attempt can take (connect + write + read are each bounded by the settings).
LEASE_SECONDS = 120.0


def _outcome(attempts: int, attempt: Attempt, delays: list[float]) -> tuple[str, float]:
    """The delivery's status after this attempt, and the delay before the next one."""
    if attempt.delivered:
        return "delivered", 0.0
    if attempt.status_code == 410:
        return "failed", 0.0
    delay = next_delay(attempts, delays, attempt.retry_after)
    return ("failed", 0.0) if delay is None else ("pending", delay)


def _secrets(row: Any) -> list[str]:
    """The secrets a delivery is signed with: the current one, and the previous one while the
    rotation's overlap lasts."""
    return [s for s in (row.secret, row.previous_secret) if s]


def _counted(status: str, attempt: Attempt) -> str:
    """The outcome label of one recorded attempt (`metrics.WEBHOOK_DELIVERIES`)."""
    if status == "pending":
        return "retried"
    if status == "failed" and attempt.status_code == 410:
        return "gone"
    return status


async def _timed(sending: Awaitable[Attempt]) -> Attempt:
    began = time.perf_counter()
    try:
        return await sending
    finally:
        WEBHOOK_ATTEMPT_SECONDS.observe(time.perf_counter() - began)


class DeliveryWorker:
    """Delivers the due webhook deliveries, leased so that many processes share the work."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._database_url = plain_url(database_url)
        self._settings = settings
        self._wake = asyncio.Event()
        self._listener: Any = None
        # Seconds to the next due retry, read with the last empty lease (None: none scheduled).
        self._next_due: float | None = None

    async def deliver_due(self, http: httpx.AsyncClient) -> int:
        """Lease one batch of due deliveries, attempt each, record the outcomes; how many."""
        async with self._sessionmaker() as session, session.begin():
            leased = (
                await session.execute(sql.LEASE, {"batch": BATCH, "lease_seconds": LEASE_SECONDS})
            ).all()
            if not leased:
                # Same transaction, same now(): a retry due after this lease is found here,
                # one due before it was leasable by this lease (or blocked by an earlier event,
                # which whoever records that event looks again for). Read separately, a retry
                # falling due in between was missed until the poll.
                due = await session.scalar(sql.NEXT_DUE)
                self._next_due = None if due is None else float(due)
        if not leased:
            return 0
        allow = self._settings.webhook_allow_private_targets
        cipher = cipher_for(self._settings.patient_data_key)
        built = [event_body(r, cipher) for r in leased]
        attempts = await asyncio.gather(
            *(
                _timed(
                    send(http, r.url, _secrets(r), str(b.body.id), b.json(), allow_private=allow)
                )
                for r, b in zip(leased, built, strict=True)
            )
        )
        await self._record(leased, attempts, built)
        return len(leased)

    async def _record(
        self, leased: Sequence[Any], attempts: Sequence[Attempt], built: Sequence[Built]
    ) -> None:
        delays = self._settings.webhook_retry_delays_seconds
        outcomes = [_outcome(r.attempts, a, delays) for r, a in zip(leased, attempts, strict=True)]
        gone: list[uuid.UUID] = [
            r.client_id for r, a in zip(leased, attempts, strict=True) if a.status_code == 410
        ]
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                sql.RECORD,
                {
                    "ids": [r.id for r in leased],
                    "attempts": [r.attempts for r in leased],
                    "statuses": [status for status, _ in outcomes],
                    "codes": [a.status_code for a in attempts],
                    "errors": [a.error for a in attempts],
                    "delays": [delay for _, delay in outcomes],
                },
            )
            disclosed = [
                (b.disclosure, a)
                for b, a in zip(built, attempts, strict=True)
                if b.disclosure and a.sent
            ]
            await audit_disclosures(
                session,
                [d for d, _ in disclosed],
                "webhook",
                detail=[{"status_code": a.status_code} for _, a in disclosed],
            )
            if gone:
                await session.execute(sql.DISABLE, {"client_ids": list(set(gone))})
                logger.warning("webhook endpoint answered 410 Gone, disabled: %s", set(gone))
        for (status, _), attempt in zip(outcomes, attempts, strict=True):
            WEBHOOK_DELIVERIES.labels(_counted(status, attempt)).inc()

    async def _listen(self) -> None:
        """(Re)open the LISTEN connection if it is not open; a failure leaves the poll alone."""
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(
                self._database_url, server_settings={"application_name": "snp-webhooks"}
            )
            await self._listener.add_listener(CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError):
            logger.warning("webhook worker cannot LISTEN; polling only", exc_info=True)
            await self._close_listener()

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.close(timeout=2)

    def _pause(self, drained_at: float) -> float:
        """How long to wait for a NOTIFY: the poll interval, or less when a retry is due sooner
        (counted from the last empty lease, which read it)."""
        poll = self._settings.webhook_poll_interval_seconds
        due, self._next_due = self._next_due, None
        if due is None:
            return poll
        return max(0.01, min(poll, due - (time.monotonic() - drained_at)))

    async def run(self, stopping: Stopping = NEVER) -> None:
        """Deliver until the process stops (between two batches); after a failed pass (logged)
        the wait doubles, up to 30 s, until a pass succeeds."""
        http = client(
            self._settings.webhook_connect_timeout_seconds,
            self._settings.webhook_read_timeout_seconds,
        )
        stopping.on_set(self._wake.set)
        backoff = Backoff(self._settings.webhook_poll_interval_seconds)
        try:
            while not stopping.is_set():
                await self._listen()
                self._wake.clear()  # before draining: a NOTIFY during the drain runs it again
                drained_at = time.monotonic()
                pause: float | None = None
                try:
                    # Again after every batch: an event freed by an earlier one's delivery
                    # leaves at once, not at the next wake-up.
                    while not stopping.is_set() and await self.deliver_due(http) > 0:
                        drained_at = time.monotonic()
                    backoff.succeeded()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the loop must outlive a database restart
                    log_background_failure(logger, "webhook delivery pass", exc)
                    pause = backoff.failed()
                if stopping.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wake.wait(), pause if pause is not None else self._pause(drained_at)
                    )
        finally:
            await self._close_listener()
            await http.aclose()
