"""Database engine, sessions and the one-request-one-transaction dependency."""

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import Settings
from app.core.db_faults import connect_or_unreachable


def async_url(url: str) -> str:
    """Return `url` with the asyncpg driver, whatever PostgreSQL scheme it was given."""
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        return urlunsplit(parts._replace(scheme="postgresql+asyncpg"))
    if parts.scheme != "postgresql+asyncpg":
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, not {parts.scheme!r}")
    return url


def plain_url(url: str) -> str:
    """Return `url` as libpq/asyncpg expect it (`postgresql://`), without the SQLAlchemy driver."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def create_engine(
    url: str, settings: Settings, *, plans_per_execution: bool = False
) -> AsyncEngine:
    """The service's engine: asyncpg, bounded pool, a statement timeout on every connection.

    `plans_per_execution`: the connections plan each statement with its values (for the search,
    whose generic plan cannot see its radius, window or modalities and runs far slower). Not for
    writes: a foreign-key trigger would re-plan its lookup for every row.
    """
    server_settings = {
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "application_name": "snp-dispatch",
        "timezone": "UTC",
    }
    if plans_per_execution:
        server_settings["plan_cache_mode"] = "force_custom_plan"
    engine = create_async_engine(
        async_url(url),
        pool_size=settings.db_search_pool_size if plans_per_execution else settings.db_pool_size,
        max_overflow=(
            settings.db_search_max_overflow if plans_per_execution else settings.db_max_overflow
        ),
        pool_pre_ping=False,
        pool_recycle=1800,
        # A failed statement's parameters (a patient's name, phone, location) must never reach
        # a log or a traceback: health data.
        hide_parameters=True,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args={
            "server_settings": server_settings,
            "timeout": settings.db_connect_timeout_seconds,
        },
    )
    event.listen(engine.sync_engine, "handle_error", _drop_server_details)
    event.listen(engine.sync_engine, "do_connect", connect_or_unreachable)
    return engine


def _drop_server_details(context: ExceptionContext) -> None:
    """Drop the DETAIL of a server error (`Failing row contains (…)`, `Key (…)=(…)`): it
    quotes the row's values, which a logged traceback would print. The message, the constraint
    and the SQLSTATE stay, and they are what the code decides on."""
    seen: set[int] = set()
    error: BaseException | None = context.original_exception
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "detail", None) is not None:
            with contextlib.suppress(AttributeError):
                error.detail = None  # type: ignore[attr-defined]
        error = error.__cause__ or error.__context__


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request, one transaction: committed before the response is sent, rolled back on error."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            # A request that read and added nothing (a search from the index, say) has nothing
            # to commit: no round of the session's commit machinery for it.
            if session.in_transaction() or session.new or session.dirty or session.deleted:
                await session.commit()
        except BaseException:
            await session.rollback()
            raise


@asynccontextmanager
async def search_session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for a search: its own pool (plans per execution), each statement autocommitted.

    The search and its audit event are one statement, so no BEGIN/COMMIT round trips are needed.
    """
    async with sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


async def get_search_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with search_session(request.app.state.search_sessionmaker) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_search_sessions(request: Request) -> async_sessionmaker[AsyncSession] | None:
    """The searches' pool, for a request that runs searches between writes (dispatch): it takes
    a search connection per search (`search_session`) instead of one for the whole request.
    Async, as every dependency here: FastAPI runs a plain function in a worker thread."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.search_sessionmaker
    return sessions


SearchSessionsDep = Annotated[async_sessionmaker[AsyncSession] | None, Depends(get_search_sessions)]
SearchSessionDep = Annotated[AsyncSession, Depends(get_search_session, scope="function")]

# Opens a search session only when one is needed (a search the in-memory index cannot answer).
SessionOpener = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def get_search_session_opener(request: Request) -> SessionOpener:
    sessionmaker = request.app.state.search_sessionmaker
    return lambda: search_session(sessionmaker)


SearchSessionOpenerDep = Annotated[SessionOpener, Depends(get_search_session_opener)]
