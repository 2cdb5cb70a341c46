"""The SAS appointment worker: one task per app process (started by the lifespan in `app.main`
when `SAS_APPOINTMENT_ENDPOINT` is set).

It drains the due messages of `sas_appointments` (lease a batch, send them concurrently,
record the outcomes, again while a batch came back), then waits for a NOTIFY on
`sas_appointments` (sent at commit by the trigger that writes them), the next retry's due time
or the poll interval, whichever is first. Retries follow `SAS_RETRY_DELAYS_SECONDS`
(`webhooks.schedule.next_delay`, the same jittered schedule as webhooks); after the last, or
on a refusal retrying cannot mend, the message is `failed` and stays visible in the table.
"""

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.background import NEVER, Stopping
from app.core.config import Settings
from app.core.db import plain_url
from app.core.db_faults import Backoff, log_background_failure
from app.services.fhir import appointment_sql as sql
from app.services.fhir.appointment import AppointmentFacts, appointment
from app.services.fhir.appointment_sender import Attempt, http_client, send_appointment
from app.services.webhooks.schedule import next_delay, parse_retry_after

logger = logging.getLogger(__name__)

CHANNEL = "sas_appointments"
BATCH = 50
LEASE_SECONDS = 120.0


def _outcome(attempts: int, attempt: Attempt, delays: list[float]) -> tuple[str, float]:
    if attempt.sent:
        return "sent", 0.0
    if not attempt.retryable:
        return "failed", 0.0
    delay = next_delay(attempts, delays, parse_retry_after(attempt.retry_after))
    return ("failed", 0.0) if delay is None else ("pending", delay)


class AppointmentWorker:
    """Sends the due Appointments to the SAS, leased so that many processes share the work."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        if settings.sas_appointment_endpoint is None:
            raise ValueError("the appointment worker needs SAS_APPOINTMENT_ENDPOINT")
        self._sessionmaker = sessionmaker
        self._database_url = plain_url(database_url)
        self._settings = settings
        self._base = str(settings.sas_appointment_endpoint).rstrip("/")
        self._wake = asyncio.Event()
        self._listener: Any = None

    async def send_due(self, http: httpx.AsyncClient) -> int:
        """Lease one batch of due messages, send each, record the outcomes; how many."""
        async with self._sessionmaker() as session, session.begin():
            leased = (
                await session.execute(sql.LEASE, {"batch": BATCH, "lease_seconds": LEASE_SECONDS})
            ).all()
        if not leased:
            return 0
        system = self._settings.sas_appointment_identifier_system
        attempts = await asyncio.gather(
            *(
                send_appointment(
                    http,
                    self._base,
                    appointment(
                        AppointmentFacts(
                            r.booking_id,
                            r.status,
                            r.operator_system,
                            r.operator_value,
                            r.start_at,
                            r.end_at,
                            r.booked_at,
                            r.timezone,
                            r.rpps,
                        ),
                        system,
                    ),
                    r.first,
                )
                for r in leased
            )
        )
        delays = self._settings.sas_retry_delays_seconds
        outcomes = [_outcome(r.attempts, a, delays) for r, a in zip(leased, attempts, strict=True)]
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                sql.RECORD,
                {
                    "ids": [r.id for r in leased],
                    "attempts": [r.attempts for r in leased],
                    "states": [state for state, _ in outcomes],
                    "codes": [a.status_code for a in attempts],
                    "errors": [a.error for a in attempts],
                    "delays": [delay for _, delay in outcomes],
                },
            )
        failed = sum(1 for state, _ in outcomes if state == "failed")
        if failed:
            logger.warning("%d SAS appointment message(s) failed for good", failed)
        return len(leased)

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(
                self._database_url, server_settings={"application_name": "snp-sas-appointments"}
            )
            await self._listener.add_listener(CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError):
            logger.warning("SAS appointment worker cannot LISTEN; polling only", exc_info=True)
            await self._close_listener()

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.close(timeout=2)

    async def _pause(self) -> float:
        poll = self._settings.sas_poll_interval_seconds
        try:
            async with self._sessionmaker() as session:
                due = await session.scalar(sql.NEXT_DUE)
        except Exception:  # the database is away: the poll interval, then try again
            return poll
        return poll if due is None else max(0.01, min(poll, float(due)))

    async def run(self, stopping: Stopping = NEVER) -> None:
        """Send until the process stops (between two batches); after a failed pass (logged) the
        wait doubles, up to 30 s, until a pass succeeds."""
        http = http_client(self._settings)
        stopping.on_set(self._wake.set)
        backoff = Backoff(self._settings.sas_poll_interval_seconds)
        try:
            while not stopping.is_set():
                await self._listen()
                self._wake.clear()
                failed = False
                try:
                    while not stopping.is_set() and await self.send_due(http) > 0:
                        pass
                    backoff.succeeded()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the loop must outlive a database restart
                    log_background_failure(logger, "SAS appointment pass", exc)
                    failed = True
                if stopping.is_set():
                    break
                # The pause first: a cancel while reading it must not leave `wait()` unawaited.
                pause = backoff.failed() if failed else await self._pause()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause)
        finally:
            await self._close_listener()
            await http.aclose()
