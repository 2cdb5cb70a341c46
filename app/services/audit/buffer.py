"""The search audit events (`search.run`), buffered in memory and written in batches by COPY.

A search is a read; its audit event is the one write it would cost. Instead of an INSERT per
search, the request appends the row here (`add`: synchronous, O(1), never raises) and one
background loop per process (`run`) writes what waits with one COPY on a connection of its own:
at least every `AUDIT_FLUSH_INTERVAL_SECONDS`, at once when `AUDIT_FLUSH_ROWS` wait (also the most
rows one COPY writes, so a backlog drains in bounded statements), and a last time when the
process stops (after uvicorn let the requests in flight finish, before the engine is disposed).

Each row carries the time of its search (`occurred_at`, given to `add`), never the time of the
COPY. While the database is away the rows are kept and the COPY retried with back-off (doubling
from the flush interval up to 30 s); at most `AUDIT_BUFFER_MAX_ROWS` are kept, the oldest dropped
beyond and counted (`snp_audit_buffer_rows_dropped_total{reason="overflow"}`).

What a crash can lose: the rows not yet written, that is at most one flush interval's worth
(plus the time of a COPY), or, during an outage, everything kept meanwhile (up to the bound). A
COPY whose connection is lost while it commits has an unknown outcome: it is retried, so a batch
may then be written twice (at least once, never silently lost while the process lives).

Booking, hold and every other audit event stay in the transaction of their change
(`app/services/audit/record.py`): they exist if and only if the change does.
"""

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.background import NEVER, Stopping
from app.core.db_faults import Backoff, log_background_failure
from app.core.metrics import (
    AUDIT_COPIES,
    AUDIT_ROWS_DROPPED,
    AUDIT_ROWS_WAITING,
    AUDIT_ROWS_WRITTEN,
)

logger = logging.getLogger(__name__)

COLUMNS = (
    "actor_client_id",
    "actor",
    "action",
    "resource_type",
    "resource_id",
    "territory_id",
    "detail",
    "occurred_at",
)

Row = tuple[
    uuid.UUID | None, str, str, str, str | None, uuid.UUID | None, str, datetime
]  # in the order of COLUMNS; `detail` already JSON


def _uuid(value: object) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


class AuditBuffer:
    """The search audit events of one process, waiting to be written (see the module)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        flush_interval_seconds: float = 1.0,
        flush_rows: int = 2000,
        max_rows: int = 100_000,
        backoff_cap_seconds: float = 30.0,
    ) -> None:
        if flush_interval_seconds <= 0 or flush_rows < 1 or max_rows < flush_rows:
            raise ValueError("need flush_interval_seconds > 0 and 1 <= flush_rows <= max_rows")
        self._engine = engine
        self._interval = flush_interval_seconds
        self._flush_rows = flush_rows
        self._max_rows = max_rows
        self._backoff = Backoff(flush_interval_seconds, backoff_cap_seconds)
        self._rows: deque[Row] = deque()
        self._copying = 0  # rows taken out of `_rows` by the COPY under way
        self._failing = False  # the last COPY failed: wait out the back-off, whatever waits
        self._wake = asyncio.Event()
        self._draining = asyncio.Lock()

    @property
    def waiting(self) -> int:
        """The rows not yet written (those of a COPY under way included)."""
        return len(self._rows) + self._copying

    def add(
        self,
        actor_client_id: uuid.UUID | None,
        actor: str,
        action: str,
        resource_type: str,
        resource_id: object | None,
        territory_id: uuid.UUID | None,
        detail: dict[str, Any],
        occurred_at: datetime,
    ) -> None:
        """Queue one audit event, to be written within the flush interval. Call it from the event
        loop's thread. It never blocks and never raises: a row it cannot take (not a timezone-aware
        `occurred_at`, a `detail` that is not JSON) is logged and counted as dropped."""
        try:
            if not isinstance(occurred_at, datetime) or occurred_at.utcoffset() is None:
                raise TypeError("occurred_at must be a timezone-aware datetime")
            row: Row = (
                _uuid(actor_client_id),
                str(actor),
                str(action),
                str(resource_type),
                str(resource_id) if resource_id is not None else None,
                _uuid(territory_id),
                # Serialized now: the caller may reuse its dict, and a bad value is refused here
                # rather than failing a whole COPY later.
                orjson.dumps(detail if detail is not None else {}, default=str).decode(),
                occurred_at,
            )
            # The rows of a COPY under way are older still: if it fails they come back in front
            # and the bound is applied again (`_trim`), so at most `max_rows` wait once it ends
            # (and `max_rows + flush_rows` are in memory meanwhile).
            if len(self._rows) >= self._max_rows:
                self._rows.popleft()
                AUDIT_ROWS_DROPPED.labels("overflow").inc()
            self._rows.append(row)
            AUDIT_ROWS_WAITING.set(self.waiting)
            if len(self._rows) >= self._flush_rows and not self._failing:
                self._wake.set()
        except Exception as exc:  # the request path must never fail for its audit row
            with contextlib.suppress(Exception):
                AUDIT_ROWS_DROPPED.labels("invalid").inc()
                # The type only: its message might quote a value the caller passed.
                logger.error("search audit row refused (%s)", type(exc).__name__)

    async def run(self, stopping: Stopping = NEVER) -> None:
        """Write what waits until the process stops, then write the rest once (see the module)."""
        stopping.on_set(self._wake.set)
        loop = asyncio.get_running_loop()
        pause = self._interval
        try:
            while not stopping.is_set():
                await self._wait_until(loop.time() + pause, loop)
                if stopping.is_set():
                    break
                pause = self._interval if await self._drain() else self._backoff.failed()
            await self._last_flush()
        except asyncio.CancelledError:
            if self.waiting:
                logger.error("search audit: cancelled with %d rows unwritten: lost", self.waiting)
            raise

    async def flush(self) -> bool:
        """Write everything waiting now, a COPY per `flush_rows`; whether it all went."""
        return await self._drain()

    async def _wait_until(self, deadline: float, loop: asyncio.AbstractEventLoop) -> None:
        """Until `deadline`, or earlier when stopping or (not backing off) a batch is full."""
        self._wake.clear()
        if len(self._rows) >= self._flush_rows and not self._failing:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, deadline - loop.time()))

    async def _drain(self) -> bool:
        async with self._draining:  # `flush` beside the loop: one COPY at a time
            while self._rows:
                if not await self._copy_batch():
                    self._failing = True
                    return False
                self._failing = False
                self._backoff.succeeded()
            return True

    async def _copy_batch(self) -> bool:
        """COPY the oldest `flush_rows` rows; if it fails they go back in front (oldest first)."""
        count = min(len(self._rows), self._flush_rows)
        batch = [self._rows.popleft() for _ in range(count)]
        self._copying = count
        try:
            await self._copy(batch)
        except BaseException as exc:
            self._rows.extendleft(reversed(batch))
            self._copying = 0
            self._trim()
            if not isinstance(exc, Exception):
                raise
            AUDIT_COPIES.labels("failed").inc()
            log_background_failure(logger, f"search audit COPY of {count} rows", exc)
            return False
        finally:
            self._copying = 0
            AUDIT_ROWS_WAITING.set(self.waiting)
        AUDIT_COPIES.labels("written").inc()
        AUDIT_ROWS_WRITTEN.inc(count)
        return True

    async def _copy(self, batch: list[Row]) -> None:
        """One COPY, autocommitted by the server, on a connection of its own from the pool."""
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            try:
                await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                    "audit_events", records=batch, columns=COLUMNS
                )
            except BaseException:
                # The error bypassed SQLAlchemy: a connection it may have broken must not go
                # back to the pool.
                with contextlib.suppress(Exception):
                    await connection.invalidate()
                raise

    def _trim(self) -> None:
        """Drop the oldest rows beyond the bound (rows put back after a failed COPY)."""
        excess = len(self._rows) - self._max_rows
        if excess > 0:
            for _ in range(excess):
                self._rows.popleft()
            AUDIT_ROWS_DROPPED.labels("overflow").inc(excess)

    async def _last_flush(self) -> None:
        """At shutdown: one more try of everything waiting; what fails is lost (logged, counted)."""
        if not self._rows:
            return
        if not await self._drain():
            lost = len(self._rows)
            self._rows.clear()
            AUDIT_ROWS_WAITING.set(self.waiting)
            AUDIT_ROWS_DROPPED.labels("shutdown").inc(lost)
            logger.error("search audit: %d rows could not be written at shutdown: lost", lost)
