"""Alembic: the migrations build exactly the models, and undo and redo cleanly."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.core import migrations
from app.core.db import async_url
from app.models import Base
from tests.fresh_database import fresh_database

SCHEMA_QUERIES = {
    "relations": "SELECT c.relname || ':' || c.relkind::text FROM pg_class c "
    "WHERE c.relnamespace = 'public'::regnamespace",
    "constraints": "SELECT conrelid::regclass::text || '.' || conname || ' ' || "
    "pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
    "AND conrelid <> 0",
    "indexes": "SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "triggers": "SELECT tgrelid::regclass::text || '.' || tgname FROM pg_trigger "
    "WHERE NOT tgisinternal",
    "functions": "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
    "extensions": "SELECT extname FROM pg_extension",
}


async def schema_of(url: str) -> dict[str, list[str]]:
    """The names (and definitions) of everything the migrations create, from pg_catalog."""
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return {
                kind: sorted((await conn.execute(text(sql))).scalars())
                for kind, sql in SCHEMA_QUERIES.items()
            }
    finally:
        await engine.dispose()


async def scalar(url: str, sql: str) -> Any:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    async with fresh_database(server_url, "migrations") as url:
        yield url


async def test_upgrade_downgrade_upgrade_leaves_the_same_schema(empty_database: str) -> None:
    await migrations.upgrade_async(empty_database)
    first = await schema_of(empty_database)
    assert "slots:r" in first["relations"]
    assert any(c.startswith("slots.ex_slots_professional_overlap ") for c in first["constraints"])
    assert "audit_events_append_only" in first["functions"]

    await migrations.downgrade_async(empty_database, "base")
    emptied = await schema_of(empty_database)
    tables = [r for r in emptied["relations"] if r.endswith(":r")]
    assert tables == ["alembic_version:r"]
    assert emptied["triggers"] == []
    assert emptied["functions"] == []

    await migrations.upgrade_async(empty_database)
    assert await schema_of(empty_database) == first
    assert await scalar(empty_database, "SELECT count(*) FROM communes") == 34_969


async def test_first_migration_creates_the_geometry_extensions(empty_database: str) -> None:
    await migrations.upgrade_async(empty_database, "0001")
    extensions = (await schema_of(empty_database))["extensions"]
    assert {"cube", "earthdistance", "btree_gist"} <= set(extensions)


async def test_upgrade_twice_is_harmless(empty_database: str) -> None:
    await migrations.upgrade_async(empty_database)
    await migrations.upgrade_async(empty_database)
    assert await scalar(empty_database, "SELECT version_num FROM alembic_version") == (
        migrations.head_revision()
    )


def _differences(sync_conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(sync_conn), Base.metadata))


async def test_models_and_migrations_describe_the_same_schema(connection: AsyncConnection) -> None:
    assert await connection.run_sync(_differences) == []
