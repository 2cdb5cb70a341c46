"""Throw-away databases on the test server, for tests that need a schema of their own."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tests.conftest import _with_database


@asynccontextmanager
async def fresh_database(server_url: str, label: str) -> AsyncIterator[str]:
    """An empty database (no schema at all), dropped on exit; yields its URL."""
    name = f"snp_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _with_database(server_url, name)
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
