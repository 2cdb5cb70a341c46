"""Time spent in the database by the current request, from SQLAlchemy's cursor events.

The request middleware puts a `DbClock` in a context variable; the engine's
`before_cursor_execute`/`after_cursor_execute` listeners add each statement's time to it.
SQLAlchemy runs the driver in a greenlet that shares the request task's context, so the
listeners see the clock of the request that issued the statement. Statements outside a request
(background tasks) find no clock and cost one context-variable read.
"""

import time
import weakref
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.metrics import POOL_LIMIT, POOL_SIZE


class DbClock:
    """Database time and statement count of one request."""

    __slots__ = ("seconds", "statements")

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements = 0


current_db_clock: ContextVar[DbClock | None] = ContextVar("snp_db_clock", default=None)
_instrumented: "weakref.WeakSet[Engine]" = weakref.WeakSet()
_START = "_snp_db_started"


def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
    if context is not None and current_db_clock.get() is not None:
        setattr(context, _START, time.perf_counter())


def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
    clock = current_db_clock.get()
    started = getattr(context, _START, None)
    if clock is not None and started is not None:
        clock.seconds += time.perf_counter() - started
        clock.statements += 1


def instrument_engine(engine: AsyncEngine, max_overflow: int) -> None:
    """Time the engine's statements per request and publish its pool size; once per engine."""
    sync_engine = engine.sync_engine
    if sync_engine in _instrumented:
        return
    _instrumented.add(sync_engine)
    event.listen(sync_engine, "before_cursor_execute", _before)
    event.listen(sync_engine, "after_cursor_execute", _after)
    size_of = getattr(sync_engine.pool, "size", None)
    size = size_of() if callable(size_of) else 0
    POOL_SIZE.inc(size)
    POOL_LIMIT.inc(size + max_overflow)


def pool_checked_out(engine: AsyncEngine) -> int:
    """Connections the engine's pool has lent out right now (0 for pools that do not count)."""
    checkedout = getattr(engine.sync_engine.pool, "checkedout", None)
    return int(checkedout()) if callable(checkedout) else 0
