"""Database engine, sessions and the one-request-one-transaction dependency."""

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import Settings


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


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    """The service's engine: asyncpg, bounded pool, a statement timeout on every connection."""
    return create_async_engine(
        async_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "snp-dispatch",
                "timezone": "UTC",
                # Plan each statement with its values: the search statement's generic plan
                # cannot see its radius, window or modalities and runs far slower; the other
                # statements are small, so planning them each time costs little. Set per
                # connection rather than per transaction, to save a round trip a search.
                "plan_cache_mode": "force_custom_plan",
            }
        },
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request, one transaction: committed before the response is sent, rolled back on error."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def use_autocommit(session: AsyncSession) -> None:
    """Let each statement of this session commit on its own (no BEGIN, no COMMIT round trips).

    For a request whose only write is part of a single statement (a search and its audit row).
    A session that already began a transaction (e.g. the key lookup ran in it) keeps it.
    """
    if not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
