"""The command line, run as an operator would: `python -m app …` against a fresh database."""

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core import migrations
from app.core.db import async_url
from app.core.security import hash_api_key, verify_password
from tests.conftest import PROJECT_ROOT
from tests.fresh_database import fresh_database


async def run_cli(database_url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run `python -m app ARGS` with DATABASE_URL set; return (exit code, stdout, stderr)."""
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        *args,
        cwd=PROJECT_ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def query(database_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


async def count(database_url: str, table: str) -> int:
    rows = await query(database_url, f"SELECT count(*) FROM {table}")  # noqa: S608 - constants
    return int(rows[0][0])


@pytest.fixture(scope="module")
async def cli_database(server_url: str) -> AsyncIterator[str]:
    """A fresh database that `python -m app migrate` brought to head."""
    async with fresh_database(server_url, "cli") as url:
        code, _, err = await run_cli(url, "migrate")
        assert code == 0, err
        yield url


async def test_migrate_brings_an_empty_database_to_head(cli_database: str) -> None:
    rows = await query(cli_database, "SELECT version_num FROM alembic_version")
    assert rows == [(migrations.head_revision(),)]
    assert await count(cli_database, "communes") == 34_969


async def test_migrate_again_changes_nothing(cli_database: str) -> None:
    code, _, err = await run_cli(cli_database, "migrate")
    assert code == 0, err
    assert await count(cli_database, "communes") == 34_969


async def test_create_client_prints_its_key_once_and_stores_its_hash(cli_database: str) -> None:
    code, out, err = await run_cli(
        cli_database, "create-client", "--name", "Coordination", "--role", "admin"
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["role"] == "admin"
    assert created["api_key"].startswith(created["key_prefix"] + "_")
    rows = await query(
        cli_database,
        "SELECT key_hash, active FROM api_clients WHERE id = CAST(:id AS uuid)",
        id=created["id"],
    )
    assert rows == [(hash_api_key(created["api_key"]), True)]
    assert created["api_key"] not in err


async def test_create_client_with_an_unknown_role_exits_non_zero(cli_database: str) -> None:
    before = await count(cli_database, "api_clients")
    code, out, err = await run_cli(
        cli_database, "create-client", "--name", "X", "--role", "superuser"
    )
    assert code != 0
    assert "superuser" in err
    assert out == ""
    assert await count(cli_database, "api_clients") == before


async def test_create_regulator_without_territory_exits_non_zero(cli_database: str) -> None:
    before = await count(cli_database, "api_clients")
    code, out, err = await run_cli(
        cli_database, "create-client", "--name", "SAMU", "--role", "regulator"
    )
    assert code != 0
    assert "territory" in err
    assert out == ""
    assert await count(cli_database, "api_clients") == before


async def test_create_regulator_for_an_unknown_territory_exits_non_zero(
    cli_database: str,
) -> None:
    code, out, err = await run_cli(
        cli_database,
        "create-client",
        "--name",
        "SAMU",
        "--role",
        "regulator",
        "--territory",
        "00000000-0000-4000-8000-000000000000",
    )
    assert code != 0
    assert "00000000-0000-4000-8000-000000000000" in err


async def test_create_admin_user_reads_the_password_from_stdin(cli_database: str) -> None:
    password = "a long admin password"
    code, out, err = await run_cli(
        cli_database,
        "create-admin-user",
        "--email",
        "Coordination@CPTS.example",
        "--password-stdin",
        stdin=password + "\n",
    )
    assert code == 0, err
    assert json.loads(out)["email"] == "coordination@cpts.example"
    assert password not in out + err
    [(stored,)] = await query(
        cli_database,
        "SELECT password_hash FROM admin_users WHERE email = 'coordination@cpts.example'",
    )
    assert verify_password(password, stored)

    code, _, err = await run_cli(
        cli_database,
        "create-admin-user",
        "--email",
        "coordination@cpts.example",
        "--password-stdin",
        stdin="another long password\n",
    )
    assert code == 0, err
    [(reset,)] = await query(
        cli_database,
        "SELECT password_hash FROM admin_users WHERE email = 'coordination@cpts.example'",
    )
    assert verify_password("another long password", reset)
    assert await count(cli_database, "admin_users") == 1


async def test_create_admin_user_refuses_a_short_password(cli_database: str) -> None:
    code, _, err = await run_cli(
        cli_database,
        "create-admin-user",
        "--email",
        "short@cpts.example",
        "--password-stdin",
        stdin="short\n",
    )
    assert code != 0
    assert "12 characters" in err
    rows = await query(cli_database, "SELECT 1 FROM admin_users WHERE email = 'short@cpts.example'")
    assert rows == []


async def demo_counts(url: str) -> dict[str, int]:
    return {
        table: await count(url, table)
        for table in ("territories", "professionals", "sites", "site_professionals", "slots")
    }


async def test_seed_demo_loads_one_cpts_and_can_run_again(server_url: str) -> None:
    async with fresh_database(server_url, "demo") as url:
        code, out, err = await run_cli(url, "seed-demo")
        assert code == 0, err
        territory_id = json.loads(out)["territory_id"]
        first = await demo_counts(url)
        assert first["territories"] == 1
        assert first["professionals"] == 40
        assert first["sites"] == 15
        assert first["site_professionals"] >= 40
        assert first["slots"] > 0

        zone = ZoneInfo("Europe/Paris")
        now = datetime.now(zone)
        end_of_day_2 = datetime.combine(now.date() + timedelta(days=3), datetime.min.time(), zone)
        [(earliest, latest, days, territory)] = await query(
            url,
            "SELECT min(s.start_at), max(s.end_at), "
            "count(DISTINCT (s.start_at AT TIME ZONE 'Europe/Paris')::date), "
            "min(st.territory_id::text) FROM slots s JOIN sites st ON st.id = s.site_id",
        )
        assert earliest >= now - timedelta(minutes=5)
        assert latest <= end_of_day_2
        assert days >= 2
        assert territory == territory_id
        [(communes,)] = await query(
            url,
            "SELECT count(*) FROM communes c JOIN sites s ON s.insee_code = c.insee_code "
            "WHERE s.postcode = ANY(c.postcodes) AND c.departement = '44'",
        )
        assert communes == 15  # real communes of Loire-Atlantique, postcodes consistent

        code, out, err = await run_cli(url, "seed-demo")
        assert code == 0, err
        assert json.loads(out)["territory_id"] == territory_id
        assert await demo_counts(url) == first


def test_serve_builds_the_app_with_the_collector_tuned_for_big_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    import app.main
    from app import cli

    built = object()
    monkeypatch.setattr(app.main, "create_app", lambda: built)
    before = gc.get_threshold()
    try:
        assert cli.serving_app() is built
        assert gc.get_threshold() == (cli.GC_YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
