"""Liveness and readiness: /readyz is 200 only when the database answers at the schema's head."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.core import migrations
from app.core.config import Settings
from app.core.db import create_engine
from app.main import create_app
from tests.fresh_database import fresh_database


async def test_healthz_is_200_without_auth(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_at_the_head_revision(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["schema"] == migrations.head_revision()


@pytest.fixture
async def database_at_0001(server_url: str) -> AsyncIterator[str]:
    """A fresh database whose schema stopped at the first migration."""
    async with fresh_database(server_url, "behind") as url:
        await migrations.upgrade_async(url, "0001")
        yield url


async def readyz_of(url: str, settings: Settings) -> httpx.Response:
    app: FastAPI = create_app(settings.model_copy(update={"database_url": url}))
    engine = create_engine(url, settings)
    app.state.engine = engine
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/readyz")
    finally:
        await engine.dispose()


async def test_readyz_is_503_when_the_schema_is_behind(
    database_at_0001: str, settings: Settings
) -> None:
    response = await readyz_of(database_at_0001, settings)
    assert response.status_code == 503
    assert response.json()["schema"] == "0001"
    assert response.json()["expected"] == migrations.head_revision()


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    response = await readyz_of("postgresql://nobody@127.0.0.1:9/none", settings)
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
