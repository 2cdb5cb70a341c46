"""The watches of one process's open streams, driven by the change feed (one task a process).

It LISTENs on `slot_openings` (NOTIFYed at commit by the trigger of migration 0014) and
`watch_changes` (a DELETE); woken, it reads the slot openings after the lowest cursor of its
streams (`changes.openings_after`: one query for the events, one for which slots are free),
filters them per watch in memory (`nearby`), and runs the search only of the watches something
opened near (`matches.events_for`). With no stream open it reads nothing. A NOTIFY can arrive
while an older transaction still holds the feed's horizon back: the feed is read again shortly
after each wake-up (`_RECHECKS`), and every WATCH_POLL_INTERVAL_SECONDS while streams are open
(a lost listener connection only slows events down to the poll).
"""

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.auth import Principal
from app.core.background import NEVER, Stopping
from app.core.config import Settings
from app.core.db import plain_url
from app.core.db_faults import Backoff, log_background_failure
from app.services.watches.changes import Cursor, Opening, openings_after
from app.services.watches.matches import Emitted, events_for
from app.services.watches.nearby import Vicinity
from app.services.watches.store import CHANGES_CHANNEL

logger = logging.getLogger(__name__)

OPENINGS_CHANNEL = "slot_openings"
# After a wake-up, the feed is read again this long after (seconds, in turn): an event whose
# NOTIFY came while an older transaction held the horizon back is served as soon as it ends.
_RECHECKS = (0.05, 0.2, 0.5)
# Searches of several watches at once, at most this many (the searches' pool is shared).
_CONCURRENT_SEARCHES = 4
# How long a DELETE heard is remembered, for a stream registering just after it.
_DELETED_MEMORY = 300.0

Ending = Literal["expired", "deleted", "shutdown"]
Item = (
    tuple[Literal["event"], Emitted]
    | tuple[Literal["reached"], Cursor]
    | tuple[Literal["end"], Ending]
)


@dataclass(eq=False)
class Listener:
    """One open stream of a watch in this process."""

    watch_id: uuid.UUID
    principal: Principal
    vicinity: Vicinity
    hold: bool
    cursor: Cursor  # the openings up to here were judged for it
    queue: asyncio.Queue[Item] = field(default_factory=asyncio.Queue)

    def reach(self, cursor: Cursor) -> None:
        if cursor > self.cursor:
            self.cursor = cursor
            self.queue.put_nowait(("reached", cursor))


class WatchHub:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        search_sessions: async_sessionmaker[AsyncSession],
        database_url: str,
        settings: Settings,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._search_sessions = search_sessions
        self._database_url = plain_url(database_url)
        self._settings = settings
        self._listeners: set[Listener] = set()
        self._wake = asyncio.Event()
        self._connection: Any = None
        self._searches = asyncio.Semaphore(_CONCURRENT_SEARCHES)
        self._deleted: dict[str, float] = {}  # watch id -> when its DELETE was heard

    def register(self, listener: Listener) -> None:
        # A DELETE heard between the stream's read of its watch and this registration.
        if str(listener.watch_id) in self._deleted:
            listener.queue.put_nowait(("end", "deleted"))
            return
        self._listeners.add(listener)
        self._wake.set()

    def unregister(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    @property
    def open_streams(self) -> int:
        return len(self._listeners)

    async def _listen(self) -> None:
        if self._connection is not None and not self._connection.is_closed():
            return
        try:
            self._connection = await asyncpg.connect(
                self._database_url, server_settings={"application_name": "snp-watches"}
            )
            await self._connection.add_listener(OPENINGS_CHANNEL, self._opened)
            await self._connection.add_listener(CHANGES_CHANNEL, self._changed)
        except (OSError, asyncpg.PostgresError):
            logger.warning("watch hub cannot LISTEN; polling only", exc_info=True)
            await self._close()

    def _opened(self, *_: object) -> None:
        self._wake.set()

    def _changed(
        self, _connection: object, _pid: object, _channel: object, payload: object
    ) -> None:
        now = time.monotonic()
        self._deleted = {k: t for k, t in self._deleted.items() if now - t < _DELETED_MEMORY}
        self._deleted[str(payload)] = now
        for listener in list(self._listeners):
            if str(listener.watch_id) == payload:
                listener.queue.put_nowait(("end", "deleted"))
                self._listeners.discard(listener)

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    async def advance(self) -> None:
        """Judge every opening after the streams' cursors, page after page, up to the horizon."""
        while self._listeners:
            listeners = list(self._listeners)
            start = min(listener.cursor for listener in listeners)
            async with self._sessionmaker() as session:
                page = await openings_after(session, start)
            now = datetime.now(UTC)
            judged = []
            for listener in listeners:
                near = [
                    o
                    for o in page.openings
                    if o.at > listener.cursor and listener.vicinity.near(o, now)
                ]
                if near:
                    judged.append(self._judge(listener, near, page.reached))
                else:
                    listener.reach(page.reached)
            await asyncio.gather(*judged)
            if not page.full:
                return

    async def _judge(self, listener: Listener, near: list[Opening], reached: Cursor) -> None:
        async with self._searches:
            try:
                events = await events_for(
                    self._sessionmaker,
                    self._search_sessions,
                    self._settings,
                    listener.watch_id,
                    listener.principal,
                    listener.vicinity,
                    listener.hold,
                    near,
                )
            except Exception as exc:  # one watch's failure must not stop the others
                log_background_failure(logger, "watch search", exc)
                events = []
        for event in events:
            if event.data.status == "held":
                listener.hold = False  # once per watch
            listener.queue.put_nowait(("event", event))
        listener.reach(reached)

    async def run(self, stopping: Stopping = NEVER) -> None:
        """Serve the streams until the process stops; then end them (`shutdown`)."""
        stopping.on_set(self._wake.set)
        backoff = Backoff(self._settings.watch_poll_interval_seconds)
        rechecks: list[float] = []
        try:
            while not stopping.is_set():
                pause: float | None = None
                if self._listeners:
                    await self._listen()
                    self._wake.clear()
                    try:
                        await self.advance()
                        backoff.succeeded()
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # the loop must outlive a database restart
                        log_background_failure(logger, "watch feed pass", exc)
                        pause = backoff.failed()
                else:
                    self._wake.clear()
                if stopping.is_set():
                    break
                if pause is None and self._listeners:
                    pause = (
                        rechecks.pop(0) if rechecks else self._settings.watch_poll_interval_seconds
                    )
                woken = False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause)
                    woken = True
                if woken:
                    rechecks = list(_RECHECKS)
        finally:
            for listener in list(self._listeners):
                listener.queue.put_nowait(("end", "shutdown"))
            self._listeners.clear()
            await self._close()
