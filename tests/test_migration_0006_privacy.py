"""Migration 0006_privacy on existing rows: en-sus distances stripped from the clear criteria,
clear idempotency records deleted; and the sweeps' scans use their new indexes."""

import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.core import migrations
from app.core.db import async_url
from tests.fresh_database import fresh_database

PROS = [str(uuid.UUID(int=n)) for n in (3, 1, 2)]  # nearest first, not in id order


@pytest.fixture
async def database_at_0005(server_url: str) -> AsyncIterator[str]:
    async with fresh_database(server_url, "migration_0006") as url:
        await migrations.upgrade_async(url, "0005")
        yield url


async def _seed_0005(url: str) -> uuid.UUID:
    criteria = {
        "professionals": [
            {
                "id": p,
                "rpps": "10000000001",
                "family_name": "Martin",
                "given_name": "Anne",
                "distance_km": 1.5 + i,
                "site": {"id": p, "name": "MSP", "address": "1 rue", "postcode": "44000"},
            }
            for i, p in enumerate(PROS)
        ]
    }
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            territory = await conn.scalar(
                text(
                    "INSERT INTO territories (name, finess, departement) "
                    "VALUES ('CPTS', '440000001', '44') RETURNING id"
                )
            )
            client = await conn.scalar(
                text(
                    "INSERT INTO api_clients (name, role, key_prefix, key_hash) "
                    "VALUES ('r', 'regulator', 'p', 'h') RETURNING id"
                )
            )
            request_id: uuid.UUID = await conn.scalar(
                text(
                    "INSERT INTO en_sus_requests (territory_id, regulator_client_id, criteria, "
                    "status, expires_at) VALUES (:t, :c, CAST(:criteria AS jsonb), 'open', now()) "
                    "RETURNING id"
                ),
                {"t": territory, "c": client, "criteria": orjson.dumps(criteria).decode()},
            )
            await conn.execute(
                text(
                    "INSERT INTO idempotency_records (client_id, key, method, path, body_sha256, "
                    "status_code, response) VALUES (:c, 'k', 'POST', '/v1/dispatch', 'abc', 201, "
                    '\'{"candidate": {"distance_km": 1.2}}\')'
                ),
                {"c": client},
            )
    finally:
        await engine.dispose()
    return request_id


async def test_upgrade_strips_distances_and_deletes_clear_idempotency_records(
    database_at_0005: str,
) -> None:
    request_id = await _seed_0005(database_at_0005)
    await migrations.upgrade_async(database_at_0005, "0006_privacy")
    engine = create_async_engine(async_url(database_at_0005))
    try:
        async with engine.connect() as conn:
            criteria = await conn.scalar(
                text("SELECT criteria FROM en_sus_requests WHERE id = :id"), {"id": request_id}
            )
            records = await conn.scalar(text("SELECT count(*) FROM idempotency_records"))
    finally:
        await engine.dispose()
    assert criteria == {
        "professionals": [
            {"id": p, "rpps": "10000000001", "family_name": "Martin", "given_name": "Anne"}
            for p in sorted(PROS)
        ]
    }
    assert records == 0


async def _plan(conn: AsyncConnection, sql: str) -> str:
    await conn.execute(text("SET LOCAL enable_seqscan = off"))
    rows = (await conn.execute(text(f"EXPLAIN {sql}"))).scalars()
    return "\n".join(rows)


async def test_the_sweeps_scans_use_their_indexes(connection: AsyncConnection) -> None:
    requests = await _plan(
        connection,
        "SELECT id FROM en_sus_requests WHERE status = 'open' AND expires_at <= now() "
        "ORDER BY expires_at LIMIT 500",
    )
    assert "ix_en_sus_requests_open_expires_at" in requests
    records = await _plan(
        connection,
        "SELECT key FROM idempotency_records WHERE created_at <= now() - interval '1 day' "
        "ORDER BY created_at LIMIT 500",
    )
    assert "ix_idempotency_records_created_at" in records
