"""Where the bench data lives: a dedicated database `snp_bench`, never the service's own.

BENCH_DATABASE_URL names it exactly; otherwise it is the database `snp_bench` on the server of
DATABASE_URL; otherwise on the embedded PostgreSQL (APP_DATA_DIR), started by this process.
"""

import os
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app.core import migrations
from app.core.config import get_settings
from app.core.db import plain_url

BENCH_DATABASE = "snp_bench"
# Each data shape (bench/generate.py) has its own database: both can be kept and reused.
SHAPE_DATABASES = {"national": BENCH_DATABASE, "large-territory": "snp_bench_large"}


def with_database(url: str, database: str) -> str:
    parts = urlsplit(plain_url(url))
    return urlunsplit(parts._replace(path="/" + database))


def bench_database_url(shape: str = "national") -> str:
    """The bench database URL (plain `postgresql://`); starts the embedded server if used.

    BENCH_DATABASE_URL names the national shape's database; another shape's is its database name
    on the same server."""
    database = SHAPE_DATABASES[shape]
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        url = plain_url(explicit)
        return url if shape == "national" else with_database(url, database)
    settings = get_settings()
    if settings.database_url:
        return with_database(settings.database_url, database)
    from app.core.embedded import start_embedded_postgres

    url = plain_url(start_embedded_postgres(settings.app_data_dir, BENCH_DATABASE))
    return url if shape == "national" else with_database(url, database)


async def recreate_database(url: str) -> None:
    """Drop and create the bench database, then migrate it to head (the production schema)."""
    name = urlsplit(url).path.lstrip("/")
    if not name.startswith("snp_bench"):
        raise SystemExit(f"refusing to drop {name!r}: the bench only drops databases snp_bench*")
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrations.upgrade_async(url)
