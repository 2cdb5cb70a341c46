"""When the database is away (down, restarting, refusing connections): a fast 503, not a 500.

A request that cannot reach PostgreSQL fails within the connect timeout
(`DB_CONNECT_TIMEOUT_SECONDS`) or the pool's wait (`DB_POOL_TIMEOUT_SECONDS`), and the client
gets a 503 problem+json with `Retry-After`: it may retry (a write with the same Idempotency-Key:
a connection lost during a commit leaves the outcome unknown to us, and the key makes the retry
safe). The pool drops its connections when one of them is found dead, so the service recovers
by itself once the server is back. Any other database error stays a 500.
"""

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from starlette.responses import Response

from app.core.errors import problem_response

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2

# Connection exceptions (class 08), the server shutting down or starting up (57P01-57P03), too
# many connections (53300): the server cannot serve us now, whatever we sent.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


# What asyncpg says of a connection the server dropped under it: closed, or left consuming the
# server's farewell error while the next operation starts. A request never shares its
# connection with another task here, so these mean the server went away, not a bug of ours.
_BROKEN_CONNECTION = (
    "connection is closed",
    "another operation is in progress",
    "cannot switch to state",
)


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, the driver errors SQLAlchemy wraps (`.orig`), their causes and contexts, once each."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend([getattr(current, "orig", None), current.__cause__, current.__context__])


def sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return str(state) if state else None


class DatabaseUnreachable(Exception):
    """A new connection to the database failed (refused, no socket, timed out)."""


def connect_or_unreachable(
    dialect: Any, _record: Any, cargs: Sequence[Any], cparams: dict[str, Any]
) -> Any:
    """The engine's `do_connect`: a failed connect becomes DatabaseUnreachable (the driver
    raises a bare OSError or TimeoutError, which would say nothing of where it came from)."""
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, TimeoutError) as exc:
        raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached or went away (not a bad statement)."""
    for error in exception_chain(exc):
        state = sqlstate(error)
        if state is not None and state.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
            return True
        # A connect that failed, a wait for a pooled connection that ran out (a busy server:
        # its own message below), a connection the driver found closed under it.
        if isinstance(error, DatabaseUnreachable | sqlalchemy.exc.TimeoutError):
            return True
        if isinstance(error, asyncpg.InterfaceError | asyncpg.InternalClientError) and any(
            sign in str(error) for sign in _BROKEN_CONNECTION
        ):
            return True
    return False


def unavailable_response(exc: BaseException, instance: str | None) -> Response:
    if any(isinstance(e, sqlalchemy.exc.TimeoutError) for e in exception_chain(exc)):
        slug, title = "server-busy", "Service busy"
        detail = "every database connection of this server stayed busy; nothing was done"
    else:
        slug, title = "database-unavailable", "Service unavailable"
        detail = "the database cannot be reached right now"
    return problem_response(
        503,
        slug,
        title,
        f"{detail}: retry after the delay in Retry-After (a write with the same Idempotency-Key)",
        instance=instance,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _database_error_handler(request: Request, exc: Exception) -> Response:
    """503 when the database is away; any other error goes on (a deadlock to the retry
    middleware, the rest to the 500 handler)."""
    if not database_unavailable(exc):
        raise exc
    logger.warning(
        "%s %s: database unavailable (%s: %s)",
        request.method,
        request.url.path,
        type(exc).__name__,
        str(exc).splitlines()[0][:200] if str(exc) else "",
    )
    return unavailable_response(exc, request.url.path)


def install_database_fault_handler(app: FastAPI) -> None:
    for kind in (
        sqlalchemy.exc.DBAPIError,
        sqlalchemy.exc.TimeoutError,
        DatabaseUnreachable,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    ):
        app.add_exception_handler(kind, _database_error_handler)


class Backoff:
    """A background loop's wait after failures: doubling from `base` up to `cap`, reset by a
    success, so a loop neither spins on an absent database nor sleeps long once it is back."""

    def __init__(self, base: float, cap: float = 30.0) -> None:
        self.base, self.cap = base, cap
        self._failures = 0

    def failed(self) -> float:
        """Count a failure; the seconds to wait before the next try."""
        self._failures += 1
        return float(min(self.cap, self.base * 2 ** (self._failures - 1)))

    def succeeded(self) -> None:
        self._failures = 0


def log_background_failure(log: logging.Logger, what: str, exc: BaseException) -> None:
    """One warning line when the database is away (it will be, during a restart); the traceback
    of anything else."""
    if database_unavailable(exc):
        log.warning("%s: database unavailable (%s); backing off", what, type(exc).__name__)
    else:
        log.error("%s failed", what, exc_info=exc)
