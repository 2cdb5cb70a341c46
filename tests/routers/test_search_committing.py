"""POST /v1/searches on a committing app: search and audit in one statement, no transaction."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.core import migrations
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.main import create_app
from app.schemas.api_client import ApiClientCreate
from app.services.directory import api_clients
from tests.conftest import bearer, new_finess, new_rpps
from tests.fresh_database import fresh_database


@pytest.fixture(scope="module")
async def committing_app(server_url: str, settings: Settings) -> AsyncIterator[FastAPI]:
    async with fresh_database(server_url, "search") as url:
        await migrations.upgrade_async(url)
        # Keys trusted for a minute, as in production: the second search skips the key lookup
        # and runs in autocommit.
        app_settings = settings.model_copy(
            update={"database_url": url, "api_key_cache_seconds": 60}
        )
        app = create_app(app_settings)
        engine = create_engine(url, app_settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        search_engine = create_engine(url, app_settings, plans_per_execution=True)
        app.state.search_sessionmaker = create_sessionmaker(search_engine)
        try:
            yield app
        finally:
            await engine.dispose()
            await search_engine.dispose()


async def test_each_search_answers_and_leaves_exactly_one_committed_audit_event(
    committing_app: FastAPI,
) -> None:
    start = datetime.now(UTC) + timedelta(hours=3)
    async with committing_app.state.sessionmaker() as session, session.begin():
        territory_id = await session.scalar(
            text(
                "INSERT INTO territories (name, finess, departement) "
                "VALUES ('CPTS', :finess, '44') RETURNING id"
            ),
            {"finess": new_finess()},
        )
        pro_id = await session.scalar(
            text(
                "INSERT INTO professionals (rpps, family_name, given_name, profession) "
                "VALUES (:rpps, 'Martin', 'Léa', '10') RETURNING id"
            ),
            {"rpps": new_rpps()},
        )
        site_id = await session.scalar(
            text(
                "INSERT INTO sites (territory_id, name, address, postcode, insee_code, lat, lon) "
                "VALUES (:t, 'MSP', '1 rue', '44000', '44109', 47.22, -1.55) RETURNING id"
            ),
            {"t": territory_id},
        )
        software = await api_clients.create_client(
            session, None, ApiClientCreate(name="agenda", role="practice_software")
        )
        await session.execute(
            text(
                "INSERT INTO slots (source_client_id, external_id, professional_id, site_id, "
                "start_at, end_at, modality) "
                "VALUES (:src, 'x1', :pro, :site, :start, :end, 'AMB')"
            ),
            {
                "src": software.id,
                "pro": pro_id,
                "site": site_id,
                "start": start,
                "end": start + timedelta(minutes=20),
            },
        )
        regulator = await api_clients.create_client(
            session,
            None,
            ApiClientCreate(name="SAS 44", role="regulator", territory_ids=[territory_id]),
        )

    transport = httpx.ASGITransport(app=committing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for _ in range(3):
            response = await http.post(
                "/v1/searches",
                json={"location": {"lat": 47.2184, "lon": -1.5536}},
                headers=bearer(regulator.api_key),
            )
            assert response.status_code == 200, response.text
            assert len(response.json()["candidates"]) == 1

    async with committing_app.state.engine.connect() as conn:
        events = (
            await conn.execute(
                text(
                    "SELECT detail FROM audit_events WHERE action = 'search.run' "
                    "AND actor_client_id = :id"
                ),
                {"id": regulator.id},
            )
        ).all()
    assert len(events) == 3
    assert all(e.detail["candidates"] == 1 for e in events)
    assert all("lat" not in str(e.detail) for e in events)  # never the patient's location
