"""The background loops of a process (sweep, deliveries, retention…): started with the app,
stopped at shutdown between two units of work.

At SIGTERM uvicorn stops accepting connections and lets the requests in flight finish (at most
SHUTDOWN_GRACE_SECONDS); then the lifespan sets `stopping`: each loop finishes the unit it is in
(a batch of deliveries, a sweep transaction) and returns instead of starting another. A loop
still busy after the grace is cancelled: its transaction rolls back, a leased row comes back to
the others when its lease lapses.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class Stopping:
    """Set once, when the process shuts down; loops look at it between two units of work."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._callbacks: list[Callable[[], None]] = []

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()
        for callback in self._callbacks:
            callback()

    def on_set(self, callback: Callable[[], None]) -> None:
        """Call `callback` when stopping (a loop waiting on its own event wakes up)."""
        self._callbacks.append(callback)

    async def sleep(self, seconds: float) -> bool:
        """Wait `seconds`, or less if the process stops meanwhile; whether it is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(0.0, seconds))
        return self.is_set()


NEVER = Stopping()  # for a loop run on its own (tests): never set


class BackgroundWork:
    """The loops of one process and their shared `stopping`."""

    def __init__(self) -> None:
        self.stopping = Stopping()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, loop: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(loop, name=name))

    async def stop(self, grace: float) -> None:
        """Ask every loop to stop, wait up to `grace` seconds, cancel those still running."""
        self.stopping.set()
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=grace)
        for task in late:
            logger.warning("%s still busy after %.0f s: cancelled", task.get_name(), grace)
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
