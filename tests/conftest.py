"""Test fixtures: a real PostgreSQL, schema by Alembic once, each test rolled back.

The server is the embedded PostgreSQL (data in `.data/test-pg`), or the one named by
`TEST_DATABASE_URL`. Each pytest run works in a database of its own, dropped at the end, so
several runs can share one server.
"""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.core import migrations
from app.core.config import Settings
from app.core.db import (
    create_engine,
    get_search_session,
    get_search_session_opener,
    get_search_sessions,
    get_session,
    plain_url,
)
from app.main import create_app
from app.schemas.api_client import ApiClientCreate
from app.services.directory import api_clients

if TYPE_CHECKING:
    from tests.services.search.fixtures import SearchWorld

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(plain_url(url))
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture(scope="session")
def server_url() -> str:
    """A URL to the test server's maintenance database."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return plain_url(url)
    from app.core.embedded import start_embedded_postgres

    return plain_url(start_embedded_postgres(PROJECT_ROOT / ".data" / "test-pg", "postgres"))


@asynccontextmanager
async def migrated_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A database of its own on the test server, migrated to head, dropped afterwards."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(server_url, name)  # a socket directory rides in the query
    await migrations.upgrade_async(url)
    try:
        yield url
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A fresh database for this run, migrated to head by Alembic."""
    async with migrated_database(server_url, "snp_test") as url:
        yield url


# No request limits, but in the tests of the limits (tests/core/test_rate_limit.py).
UNLIMITED_ENV = {
    "RATE_LIMIT_ADMIN": "",
    "RATE_LIMIT_REGULATOR": "",
    "RATE_LIMIT_PRACTICE_SOFTWARE": "",
    "RATE_LIMIT_SAS_PLATFORM": "",
}


def unlimited_settings(**values: Any) -> Settings:
    """Settings for a test: `values`, and no request limits."""
    limits = {name.lower(): value for name, value in UNLIMITED_ENV.items()}
    return Settings(**{**limits, **values})


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return unlimited_settings(database_url=database_url, api_key_cache_seconds=0)


@pytest.fixture(scope="session")
async def engine(database_url: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session whose commits are savepoints of the test's transaction."""
    async with AsyncSession(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    ) as session:
        yield session


@pytest.fixture
def app(settings: Settings, engine: AsyncEngine, session: AsyncSession) -> FastAPI:
    """The app, its requests running in the test's session (no lifespan needed)."""
    app = create_app(settings)
    app.state.engine = engine

    async def test_session() -> AsyncIterator[AsyncSession]:
        # Like the real dependency: a request's writes stand together or not at all. A savepoint
        # per request keeps the test's own setup when a request is refused.
        request_transaction = await session.begin_nested()
        try:
            yield session
        except BaseException:
            await request_transaction.rollback()
            raise
        await request_transaction.commit()

    app.dependency_overrides[get_session] = test_session
    app.dependency_overrides[get_search_session] = test_session
    app.dependency_overrides[get_search_session_opener] = lambda: asynccontextmanager(test_session)
    app.dependency_overrides[get_search_sessions] = lambda: None  # dispatch searches in it too
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


MakeKey = Callable[..., Awaitable[tuple[str, uuid.UUID]]]


@pytest.fixture
def make_key(session: AsyncSession) -> MakeKey:
    """Create an API client of `role` and return (its key, its id)."""

    async def make(
        role: str = "admin",
        territory_ids: list[uuid.UUID] | None = None,
        professional_ids: list[uuid.UUID] | None = None,
        name: str | None = None,
        **extra: Any,
    ) -> tuple[str, uuid.UUID]:
        created = await api_clients.create_client(
            session,
            None,
            ApiClientCreate(
                name=name or f"{role} {uuid.uuid4().hex[:6]}",
                role=role,
                territory_ids=territory_ids or [],
                professional_ids=professional_ids or [],
                **extra,
            ),
        )
        return created.api_key, created.id

    return make


@pytest.fixture
def world(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    make_key: MakeKey,
) -> "SearchWorld":
    """A search test's world: territories, sites, professionals and slots built on demand."""
    from tests.services.search.fixtures import SearchWorld

    return SearchWorld(client, admin_headers, session, make_key)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def admin_headers(make_key: MakeKey) -> dict[str, str]:
    key, _ = await make_key("admin")
    return bearer(key)


_rpps_counter: Iterator[int] = iter(range(10_000_000, 99_999_999))


def new_rpps() -> str:
    """A fresh 11-digit RPPS for a test."""
    return f"100{next(_rpps_counter):08d}"


def luhn_finess(prefix8: str) -> str:
    """`prefix8` completed with its Luhn key: a valid FINESS."""
    from app.schemas.identifiers import luhn_valid

    return next(prefix8 + str(k) for k in range(10) if luhn_valid(prefix8 + str(k)))


_finess_counter: Iterator[int] = iter(range(100_000, 999_999))


def new_finess(departement: str = "44") -> str:
    return luhn_finess(f"{departement}{next(_finess_counter):06d}")
