"""Which errors mean "the database is away" (a 503, a quiet back-off) and which are ours (500)."""

import asyncio
import logging

import asyncpg
import pytest
import sqlalchemy.exc
from sqlalchemy import text

from app.core.config import Settings
from app.core.db import create_engine
from app.core.db_faults import (
    Backoff,
    DatabaseUnreachable,
    database_unavailable,
    log_background_failure,
)


def _wrapped(error: BaseException) -> sqlalchemy.exc.DBAPIError:
    return sqlalchemy.exc.DBAPIError("SELECT 1", None, error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        DatabaseUnreachable("ConnectionRefusedError: [Errno 111]"),
        sqlalchemy.exc.TimeoutError("QueuePool limit of size 10 overflow 5 reached"),
    ],
)
def test_errors_of_an_absent_database_are_unavailability(error: Exception) -> None:
    assert database_unavailable(error)
    assert database_unavailable(_wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
        asyncpg.SyntaxOrAccessError("syntax error at or near"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        OSError(36, "File name too long"),
        ValueError("not ours to hide"),
    ],
)
def test_other_errors_are_not(error: Exception) -> None:
    assert not database_unavailable(error)
    assert not database_unavailable(_wrapped(error))


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:9/x", "postgresql://postgres@/x?host=/nonexistent-dir"],
)
async def test_a_database_that_is_not_there_fails_fast_as_unreachable(url: str) -> None:
    engine = create_engine(url, Settings(db_connect_timeout_seconds=2))
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(DatabaseUnreachable) as raised:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        assert asyncio.get_running_loop().time() - started < 3
        assert database_unavailable(raised.value)
    finally:
        await engine.dispose()


def test_backoff_doubles_to_its_cap_and_resets_on_success() -> None:
    backoff = Backoff(1.0, cap=5.0)
    assert [backoff.failed() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.succeeded()
    assert backoff.failed() == 1.0


def test_an_absent_database_is_one_line_and_anything_else_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("test.background")
    with caplog.at_level(logging.WARNING, "test.background"):
        log_background_failure(log, "sweep", _wrapped(asyncpg.CannotConnectNowError("starting")))
        log_background_failure(log, "sweep", RuntimeError("a bug"))
    away, bug = caplog.records
    assert away.levelno == logging.WARNING
    assert away.exc_info is None
    assert bug.levelno == logging.ERROR
    assert bug.exc_info is not None
