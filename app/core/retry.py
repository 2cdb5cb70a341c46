"""Transparent retry of a request that lost a deadlock or a serialization conflict.

PostgreSQL resolves a deadlock (40P01) by aborting one of the transactions, and refuses a
serialization conflict (40001); both say "run it again". A request is one transaction
(`core/db.get_session`), rolled back whole when it fails, so running the request again is
safe: this middleware keeps the body, and when the app raises such an error before it has
answered, runs the request again (a few times, with a short jittered pause). Whoever writes
anywhere gets this without a line of their own. When the retries run out, the client gets a
503 problem+json with `Retry-After`, never a 500.
"""

import asyncio
import logging
import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.asgi_body import read_body, replaying
from app.core.db_faults import exception_chain, sqlstate
from app.core.errors import problem_response

logger = logging.getLogger(__name__)

TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
MAX_ATTEMPTS = 4
_PAUSE_SECONDS = (0.005, 0.02, 0.05)


def transient_sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a deadlock or serialization failure anywhere in `exc`'s chain, else None.

    Looks through SQLAlchemy's wrapper (`.orig`), its driver adapter and the exception chain, so
    a raw asyncpg error (COPY) and a wrapped one are recognised alike.
    """
    for error in exception_chain(exc):
        state = sqlstate(error)
        if state in TRANSIENT_SQLSTATES:
            return state
    return None


class TransientRetry:
    """Pure ASGI middleware: replay the request when it lost a deadlock or serialization race."""

    def __init__(self, app: ASGIApp, attempts: int = MAX_ATTEMPTS) -> None:
        self.app = app
        self.attempts = attempts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        for attempt in range(1, self.attempts + 1):
            started = False

            async def tracking_send(message: Message) -> None:
                nonlocal started
                started = True
                await send(message)

            try:
                await self.app(scope, replaying(body, receive), tracking_send)
                return
            except Exception as exc:
                state = transient_sqlstate(exc)
                if state is None or started:
                    raise
                logger.warning(
                    "%s %s lost a database race (SQLSTATE %s), attempt %d of %d",
                    scope["method"],
                    scope.get("path"),
                    state,
                    attempt,
                    self.attempts,
                )
                if attempt < self.attempts:
                    await asyncio.sleep(_pause(attempt))
        response = problem_response(
            503,
            "database-contention",
            "Service busy",
            "the request kept meeting concurrent writes on the same rows; nothing was changed, "
            "retry it",
            instance=scope.get("path"),
            headers={"Retry-After": "1"},
        )
        await response(scope, receive, send)


def _pause(attempt: int) -> float:
    base = _PAUSE_SECONDS[min(attempt, len(_PAUSE_SECONDS)) - 1]
    return base * random.uniform(0.5, 1.5)  # noqa: S311 (jitter only)
