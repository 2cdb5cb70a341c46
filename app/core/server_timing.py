"""Per-request timing: a `Server-Timing` header with the database time, and the Prometheus metrics.

A pure ASGI middleware (no BaseHTTPMiddleware task hop): it starts a database clock for the
request, and when the response starts it adds `Server-Timing: db;dur=…;desc="N statements",
total;dur=…` (milliseconds), observes the latency histograms under the route's template
(`/v1/territories/{territory_id}`, never the raw path) and counts hold and booking outcomes.
"""

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.db_timing import DbClock, current_db_clock, instrument_engine, pool_checked_out
from app.core.idempotency import REPLAYED_HEADER
from app.core.metrics import (
    POOL_CHECKED_OUT,
    REQUEST_DB_SECONDS,
    REQUEST_SECONDS,
    REQUESTS,
    count_booking,
    count_hold,
)

UNMATCHED_ROUTE = "unmatched"
_REPLAYED = REPLAYED_HEADER.lower().encode("latin-1")


def route_template(scope: Scope) -> str:
    """The matched route's path template, so that metrics do not grow with every id."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def count_outcome(method: str, route: str, status: int, replayed: bool = False) -> None:
    """Count the hold or booking that a successful write on a hold/booking route made (an
    idempotent replay made none)."""
    if status >= 300 or replayed:
        return
    if method == "POST" and route in ("/v1/holds", "/v1/dispatch"):
        if status == 201:  # 200 is a renewal of a live hold, not a new one
            count_hold("created")
    elif method == "DELETE" and route.startswith("/v1/holds/"):
        count_hold("released")
    elif method == "POST" and route == "/v1/bookings":
        count_booking("booked")
    elif method == "POST" and route.startswith("/v1/bookings/") and route.endswith("/cancel"):
        count_booking("cancelled")


class RequestTiming:
    """Pure ASGI middleware adding `Server-Timing` and recording the request metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._instrumented_engine: Any = None

    def _instrument(self, scope: Scope) -> Any:
        state = getattr(scope.get("app"), "state", None)
        engine = getattr(state, "engine", None)
        if engine is not None and engine is not self._instrumented_engine:
            settings = getattr(state, "settings", None)
            instrument_engine(engine, getattr(settings, "db_max_overflow", 0))
            # The searches' own pool (app/main.py): timed and counted with the other.
            search_engine = getattr(state, "search_engine", None)
            if search_engine is not None:
                instrument_engine(search_engine, getattr(settings, "db_search_max_overflow", 0))
            self._instrumented_engine = engine
        return engine

    def _instrument_after_startup(self, scope: Scope, send: Send) -> Send:
        """Publish the pool size as soon as the lifespan has created the engine."""

        async def startup_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self._instrument(scope)
            await send(message)

        return startup_send

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._instrument_after_startup(scope, send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        engine = self._instrument(scope)
        started = time.perf_counter()
        clock = DbClock()
        token = current_db_clock.set(clock)
        status = 500
        replayed = False

        async def timed_send(message: Message) -> None:
            nonlocal status, replayed
            if message["type"] == "http.response.start":
                status = message["status"]
                replayed = (_REPLAYED, b"true") in message.get("headers", [])
                elapsed_ms = (time.perf_counter() - started) * 1000
                value = (
                    f'db;dur={clock.seconds * 1000:.3f};desc="{clock.statements} statements", '
                    f"total;dur={elapsed_ms:.3f}"
                )
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", value.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            current_db_clock.reset(token)
            method = scope["method"]
            route = route_template(scope)
            REQUEST_SECONDS.labels(method, route).observe(time.perf_counter() - started)
            REQUEST_DB_SECONDS.labels(method, route).observe(clock.seconds)
            REQUESTS.labels(method, route, str(status)).inc()
            count_outcome(method, route, status, replayed)
            if engine is not None:
                POOL_CHECKED_OUT.set(pool_checked_out(engine))
