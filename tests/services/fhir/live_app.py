"""The app with its real lifespan (its workers) on a database of its own, for the FHIR tests
whose background work only sees committed rows."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from app.core.config import Settings
from app.main import create_app
from app.schemas.api_client import ApiClientCreate
from app.services.directory.api_clients import create_client

SYSTEM = "urn:oid:1.2.250.1.999.1"


@asynccontextmanager
async def running_app(url: str, **settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    config = Settings(
        database_url=url,
        api_key_cache_seconds=0,
        sas_appointment_identifier_system=SYSTEM,
        sas_poll_interval_seconds=0.1,
        sas_retry_delays_seconds=[0.1, 0.1],
        **settings,
    )
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, app


async def key_of(app: Any, role: str, **scope: Any) -> tuple[str, uuid.UUID]:
    """A new API client of `role` (committed): its key and its id."""
    async with app.state.sessionmaker() as session, session.begin():
        created = await create_client(
            session, None, ApiClientCreate(name=f"{role} test", role=role, **scope)
        )
    return created.api_key, created.id
