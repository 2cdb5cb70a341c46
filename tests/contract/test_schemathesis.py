"""Schemathesis against a real server: `python -m app serve` on its own PostgreSQL database
with the demo CPTS, run once per role with that role's key, every check on (exclusions, each
with its reason, in schemathesis.toml; none for a server error), at least 2,000 cases.

A failure prints schemathesis's report: each failing case with a curl line to reproduce it.
"""

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app import demo
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.models import Professional
from app.schemas.api_client import ApiClientCreate
from app.services.directory import api_clients
from tests.concurrency.conftest import _free_port, _wait_ready
from tests.conftest import UNLIMITED_ENV, migrated_database

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
MIN_CASES = 2_000
# Which operations each role is run against (a role's key on the others only meets 403s,
# which the sas_platform run checks everywhere with fewer cases).
RUNS = {
    "admin": (
        r"^/(healthz|readyz|v1/(territories|professionals|sites|clients|audit-events"
        r"|communes|deliveries))",
        40,
    ),
    "regulator": (r"^/v1/(searches|dispatch|holds|bookings|requests|watches)", 40),
    "practice_software": (r"^/v1/(slots|bookings|requests)", 40),
    "sas_platform": (r"^/", 5),
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def contract_database(server_url: str) -> AsyncIterator[str]:
    """A database of its own (the server commits; the other tests must not see its rows)."""
    async with migrated_database(server_url, "snp_contract") as url:
        yield url


@pytest.fixture(scope="module")
async def role_keys(contract_database: str) -> dict[str, str]:
    """The demo CPTS, and a key per role scoped to it (practice software: all its doctors)."""
    engine = create_engine(contract_database, Settings(database_url=contract_database))
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            territory_id = await demo.seed_demo(session)
            professionals = list((await session.scalars(select(Professional.id))).all())
            keys = {}
            for role in RUNS:
                created = await api_clients.create_client(
                    session,
                    None,
                    ApiClientCreate(
                        name=f"contract {role}",
                        role=role,
                        territory_ids=[] if role == "admin" else [territory_id],
                        professional_ids=professionals if role == "practice_software" else [],
                    ),
                )
                keys[role] = created.api_key
    finally:
        await engine.dispose()
    return keys


@pytest.fixture(scope="module")
def server(contract_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("contract") / "server.log"
    env = {
        **os.environ,
        # One process per server (the default is one worker per core).
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": contract_database,
        "LOG_LEVEL": "WARNING",
        **UNLIMITED_ENV,
        # Every valid POST /v1/watches stores an open watch of the run's one regulator: at the
        # default bound (20) the rest of the run would meet 429s, a limit like the rate limits
        # above (tests/concurrency/test_watches.py checks the bound itself).
        "WATCH_MAX_OPEN_PER_REGULATOR": "1000",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, base_url, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # A traceback in the server log is a failure even if every answer looked fine.
        assert "Traceback" not in log.read_text(errors="replace"), log.read_text()[-5000:]


def run_schemathesis(base_url: str, key: str, paths: str, examples: int) -> tuple[int, str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--include-path-regex",
        paths,
        "--max-examples",
        str(examples),
        "--seed",
        "20261201",
        # One worker: hypothesis reads lambda sources with ast.parse, which CPython 3.11 does
        # not support from several threads at once (SystemError: AST constructor recursion).
        "--workers",
        "1",
        "--no-color",
    ]
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    return done.returncode, done.stdout + done.stderr


def test_schemathesis_finds_nothing(server: str, role_keys: dict[str, str]) -> None:
    total = 0
    reports = []
    for role, (paths, examples) in RUNS.items():
        code, output = run_schemathesis(server, role_keys[role], paths, examples)
        generated = re.search(r"(\d+) generated", output)
        cases = int(generated.group(1)) if generated else 0
        total += cases
        if code != 0:
            reports.append(f"--- {role} (exit {code}) ---\n{output[-20000:]}")
        print(f"schemathesis {role}: {cases} cases, exit {code}")  # noqa: T201
    assert not reports, "\n".join(reports)
    assert "[checks.not_a_server_error" not in CONFIG.read_text()  # never configured away
    assert total >= MIN_CASES, f"only {total} generated cases"
