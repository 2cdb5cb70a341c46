"""The search index of one process, kept current by the change feed (issue 15).

Life of an index:
- **start-up**: in the background, one snapshot reads the directory and the open slots starting
  before `until` (now + 72 h + SEARCH_INDEX_MARGIN_MINUTES) and sets the cursor to the feed's
  horizon. Until it is done, `usable` says no and the SQL search answers.
- **catching up**: at each NOTIFY `slot_changes` (written at commit by the outbox trigger) and
  at least every SEARCH_INDEX_POLL_SECONDS, a pass reads the slots changed since the cursor and
  puts their current rows (`feed.read_changes`). `fresh_at` is the time just before the pass's
  snapshot: everything committed before it is in the index. A NOTIFY missed (its connection
  dropped) only waits for the next poll; a pass that fails leaves `fresh_at` where it was.
- **lag**: when `fresh_at` is older than SEARCH_INDEX_MAX_LAG_SECONDS (the database is
  unreachable, the process is starved), `usable` says no: searches go to SQL and the metric
  `snp_search_answers{source="sql",reason="lagging"}` counts them. So the index never offers a
  slot taken more than the lag bound ago; a slot taken within it is refused by the hold's
  conditional update (409, or dispatch's next candidate), never double booked.
- **rolling forward**: when `until` comes within half the margin of now + 72 h, the next pass
  also reads the open slots of the window's new part, in the same snapshot; every minute the
  slots that have started are dropped.
- **directory**: a change of territories, sites, professionals, communes or a client's `active`
  bumps `search_directory_version`; a pass that sees another version reloads everything (the
  old index answers meanwhile while it is fresh enough).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from app.core.background import NEVER, Stopping
from app.core.config import Settings
from app.core.db_faults import Backoff, log_background_failure
from app.core.metrics import (
    SEARCH_ANSWERS,
    SEARCH_INDEX_LAG,
    SEARCH_INDEX_READY,
    SEARCH_INDEX_SLOTS,
)
from app.services.search.index.feed import (
    CHANGES_CHANNEL,
    DIRECTORY_CHANNEL,
    Cursor,
    load_snapshot,
    read_changes,
)
from app.services.search.index.store import Directory, FreeSlots, SlotRow, to_us
from app.services.search.window import MAX_AHEAD

logger = logging.getLogger(__name__)

_DROP_STARTED_EVERY = 60.0
_MIN_PASS_GAP = 0.05
_LOAD_SLICE = 10_000
_STATEMENT_TIMEOUT_SECONDS = 60.0


def serving(index: "SearchIndex | None") -> "SearchIndex | None":
    """`index` if a search may read it now, else None (the SQL search answers); counted."""
    reason = "disabled" if index is None else index.unusable(datetime.now(UTC) + MAX_AHEAD)
    if reason is not None:
        SEARCH_ANSWERS.labels("sql", reason).inc()
        return None
    SEARCH_ANSWERS.labels("index", "").inc()
    return index


class SearchIndex:
    """One process's free-slot index and the loop that keeps it current."""

    def __init__(self, database_url: str, settings: Settings) -> None:
        self._url = database_url
        self._settings = settings
        self._margin = timedelta(minutes=settings.search_index_margin_minutes)
        self.slots: FreeSlots | None = None
        self.version: int | None = None
        self.cursor: Cursor = (0, 0)
        self.fresh_at = float("-inf")  # monotonic time before the last pass's snapshot
        self.loaded_in: float | None = None  # seconds the last full load took
        self._wake = asyncio.Event()
        self._connection: Any = None
        self._dropped_at = time.monotonic()

    # -- what a search asks ---------------------------------------------------------------

    def lag(self) -> float:
        return time.monotonic() - self.fresh_at

    def unusable(self, window_end: datetime) -> str | None:
        """Why a search ending at `window_end` may not read the index now, or None."""
        if self.slots is None:
            return "not_ready"
        if self.lag() > self._settings.search_index_max_lag_seconds:
            return "lagging"
        if to_us(window_end) > self.slots.until_us:
            return "beyond_window"
        return None

    # -- keeping it current -----------------------------------------------------------------

    async def load(self) -> None:
        """Read everything afresh (start-up, a directory change)."""
        connection = await self._connect()
        began = time.monotonic()
        now = datetime.now(UTC)
        until = now + MAX_AHEAD + self._margin
        built: list[FreeSlots] = []

        def into(directory: Directory) -> Callable[[list[SlotRow]], Awaitable[None]]:
            built.append(FreeSlots(directory, to_us(until)))

            async def take(rows: list[SlotRow]) -> None:
                built[0].load(rows)
                await asyncio.sleep(0)  # the process keeps answering (old index, or SQL)

            return take

        version, cursor = await load_snapshot(connection, now, until, into, _LOAD_SLICE)
        slots = built[0]
        slots.settle()
        self.slots, self.version, self.cursor = slots, version, cursor
        self.fresh_at = began
        self.loaded_in = time.monotonic() - began
        SEARCH_INDEX_SLOTS.set(len(slots))
        SEARCH_INDEX_READY.set(1)
        logger.info(
            "search index loaded: %d slots, %d sites in %.2f s",
            len(slots),
            len(slots.directory.sites),
            self.loaded_in,
        )

    async def catch_up(self) -> None:
        """One pass: the slots changed since the cursor (or a reload if the directory moved)."""
        if self.slots is None:
            await self.load()
            return
        connection = await self._connect()
        began = time.monotonic()
        now = datetime.now(UTC)
        slots = self.slots
        extend = None
        wanted = now + MAX_AHEAD + self._margin
        if to_us(wanted - self._margin / 2) > slots.until_us:
            start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=slots.until_us)
            extend = (start - timedelta(microseconds=1), wanted)
        changes = await read_changes(connection, self.cursor, extend)
        if changes.version != self.version:
            await self.load()
            return
        if extend is not None:
            slots.until_us = to_us(wanted)
            slots.load(changes.window)
        still = {row.id for row in changes.rows}
        for slot_id in changes.changed:
            if slot_id not in still:  # deleted: no row to put
                slots.remove(slot_id.int)
        for row in changes.rows:
            slots.put(row)  # replaces the slot's entry, or drops it if no longer open
        self.cursor = changes.cursor
        if began - self._dropped_at > _DROP_STARTED_EVERY:
            slots.drop_started(to_us(now))
            self._dropped_at = began
        self.fresh_at = began
        SEARCH_INDEX_SLOTS.set(len(slots))

    async def _connect(self) -> Any:
        if self._connection is not None and not self._connection.is_closed():
            return self._connection
        self._connection = None
        connection = await asyncpg.connect(
            self._url,
            server_settings={"application_name": "snp-search-index"},
            timeout=self._settings.db_connect_timeout_seconds,
            # A pass stuck on a dead connection is given up (and the connection reopened); the
            # searches go to SQL meanwhile. Long enough for a national load.
            command_timeout=_STATEMENT_TIMEOUT_SECONDS,
        )
        try:
            await connection.add_listener(CHANGES_CHANNEL, self._woken)
            await connection.add_listener(DIRECTORY_CHANNEL, self._woken)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        return connection

    def _woken(self, *_: object) -> None:
        self._wake.set()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    async def run(self, stopping: Stopping = NEVER) -> None:
        """Load, then catch up at every wake-up and poll, until the process stops."""
        stopping.on_set(self._wake.set)
        SEARCH_INDEX_READY.set(0 if self.slots is None else 1)
        poll = self._settings.search_index_poll_seconds
        backoff = Backoff(poll)
        try:
            while not stopping.is_set():
                pause = poll
                self._wake.clear()
                try:
                    await self.catch_up()
                    backoff.succeeded()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the loop must outlive a database restart
                    log_background_failure(logger, "search index pass", exc)
                    await self.close()
                    pause = backoff.failed()
                SEARCH_INDEX_LAG.set(self.lag() if self.slots is not None else 0.0)
                if stopping.is_set():
                    break
                # Under a stream of writes, wake-ups arrive faster than passes: a short gap
                # lets one pass read a batch of them (well inside the lag bound).
                await asyncio.sleep(_MIN_PASS_GAP)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause)
        finally:
            await self.close()
