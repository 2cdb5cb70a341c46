"""One request, one transaction, with the service's own session dependency (no test override)."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.core import migrations
from app.core.config import Settings
from app.core.db import SessionDep, create_engine, create_sessionmaker
from app.core.errors import Conflict
from app.main import create_app
from app.schemas.api_client import ApiClientCreate
from app.services.audit import record as audit
from app.services.directory import api_clients
from tests.conftest import bearer, new_rpps
from tests.fresh_database import fresh_database


@pytest.fixture(scope="module")
async def committing_app(server_url: str, settings: Settings) -> AsyncIterator[FastAPI]:
    """The app on a database of its own, committing for real as in production."""
    async with fresh_database(server_url, "session") as url:
        await migrations.upgrade_async(url)
        app = create_app(settings.model_copy(update={"database_url": url}))
        engine = create_engine(url, settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)

        @app.post("/test/write-then-refuse")
        async def write_then_refuse(session: SessionDep) -> None:
            await audit.record(session, None, "test.partial", "test", actor_label="test")
            raise Conflict("refused after a write")

        try:
            yield app
        finally:
            await engine.dispose()


@pytest.fixture
async def admin_key(committing_app: FastAPI) -> str:
    async with committing_app.state.sessionmaker() as session, session.begin():
        created = await api_clients.create_client(
            session, None, ApiClientCreate(name="admin", role="admin")
        )
    return created.api_key


@pytest.fixture
async def http(committing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=committing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def count(app: FastAPI, sql: str, **params: object) -> int:
    async with app.state.engine.connect() as conn:
        return int(await conn.scalar(text(sql), params))


async def test_created_resource_is_committed_before_the_201(
    http: httpx.AsyncClient, committing_app: FastAPI, admin_key: str
) -> None:
    rpps = new_rpps()
    body = {"rpps": rpps, "family_name": "A", "given_name": "B", "profession": "10"}
    response = await http.post("/v1/professionals", json=body, headers=bearer(admin_key))
    assert response.status_code == 201
    # Another connection sees it at once: the transaction committed before the answer.
    sql = "SELECT count(*) FROM professionals WHERE rpps = :rpps"
    assert await count(committing_app, sql, rpps=rpps) == 1
    events = "SELECT count(*) FROM audit_events WHERE resource_id = :id"
    assert await count(committing_app, events, id=response.json()["id"]) == 1


async def test_refused_request_leaves_none_of_its_writes(
    http: httpx.AsyncClient, committing_app: FastAPI
) -> None:
    response = await http.post("/test/write-then-refuse")
    assert response.status_code == 409
    sql = "SELECT count(*) FROM audit_events WHERE action = 'test.partial'"
    assert await count(committing_app, sql) == 0


async def test_duplicate_rpps_keeps_one_row_and_one_audit_event(
    http: httpx.AsyncClient, committing_app: FastAPI, admin_key: str
) -> None:
    rpps = new_rpps()
    body = {"rpps": rpps, "family_name": "A", "given_name": "B", "profession": "10"}
    first = await http.post("/v1/professionals", json=body, headers=bearer(admin_key))
    second = await http.post("/v1/professionals", json=body, headers=bearer(admin_key))
    assert (first.status_code, second.status_code) == (201, 409)
    assert (
        await count(committing_app, "SELECT count(*) FROM professionals WHERE rpps = :r", r=rpps)
        == 1
    )
    sql = (
        "SELECT count(*) FROM audit_events "
        "WHERE action = 'professional.create' AND resource_id = :id"
    )
    assert await count(committing_app, sql, id=first.json()["id"]) == 1


async def test_a_failed_statement_does_not_show_its_parameters(committing_app: FastAPI) -> None:
    """Statement errors end in logs and tracebacks: their bound parameters stay out of them.

    (A driver or server message may still quote a value it could not convert; the service's
    statements bind typed values, so those do not arise from client input.)
    """
    from sqlalchemy.exc import DBAPIError

    async with committing_app.state.engine.connect() as conn:
        with pytest.raises(DBAPIError) as caught:
            await conn.execute(
                text("SELECT length(CAST(:phone AS text)) / 0"), {"phone": "+33612345678"}
            )
    assert "+33612345678" not in str(caught.value)


async def test_only_the_search_pool_plans_per_execution(
    server_url: str, settings: Settings
) -> None:
    """Writes keep PostgreSQL's plan cache: with custom plans, each foreign-key check of a slot
    COPY was re-planned per row (1.8× slower); the search needs them (its generic plan is slow)."""
    for plans_per_execution, expected in ((False, "auto"), (True, "force_custom_plan")):
        engine = create_engine(server_url, settings, plans_per_execution=plans_per_execution)
        try:
            async with engine.connect() as conn:
                assert await conn.scalar(text("SHOW plan_cache_mode")) == expected
        finally:
            await engine.dispose()
