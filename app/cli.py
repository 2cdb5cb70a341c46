"""The command line: `python -m app migrate | serve | seed-demo | create-client | …`."""

import argparse
import asyncio
import gc
import json
import logging
import os
import secrets
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app import demo
from app.core import migrations
from app.core.config import Settings, get_settings
from app.core.crypto import cipher_for
from app.core.db import create_engine, create_sessionmaker
from app.core.embedded import start_embedded_postgres
from app.core.errors import AppError
from app.core.security import hash_password, verify_password
from app.core.webhook_targets import check_webhook_target
from app.models import AdminUser, ApiClient
from app.schemas.api_client import ApiClientCreate
from app.services.directory import api_clients
from app.services.directory.centroids import read_centroids_csv, set_centroids
from app.services.privacy.reseal import Resealed, reseal_all

T = TypeVar("T")
DEMO_ADMIN_NAME = "Coordination CPTS (démo)"
DEMO_ADMIN_EMAIL = "coordination@demo.cpts"
DEMO_REGULATOR_NAME = "Régulation SAS 44 (démo)"


def database_url(settings: Settings) -> str:
    """The configured server, or the embedded one (started now, data kept in APP_DATA_DIR)."""
    if settings.database_url:
        return settings.database_url
    url = start_embedded_postgres(settings.app_data_dir)
    # Worker processes and child commands inherit the server instead of starting their own.
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    return url


async def _in_transaction(
    url: str, settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    engine = create_engine(url, settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    migrations.upgrade(database_url(settings))
    return 0


def cmd_seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    url = database_url(settings)
    migrations.upgrade(url)
    territory_id = asyncio.run(_in_transaction(url, settings, demo.seed_demo))
    print(json.dumps({"territory_id": str(territory_id)}))
    return 0


def cmd_create_client(args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = ApiClientCreate(
            name=args.name,
            role=args.role,
            territory_ids=args.territory,
            professional_ids=args.professional,
            webhook_url=args.webhook_url,
        )
    except ValidationError as exc:
        print(f"invalid client: {exc}", file=sys.stderr)
        return 2
    url = database_url(settings)

    async def work(session: AsyncSession) -> dict[str, Any]:
        if data.webhook_url is not None:
            await check_webhook_target(
                str(data.webhook_url),
                allow_private=settings.webhook_allow_private_targets,
                location="--webhook-url",
            )
        created = await api_clients.create_client(session, None, data)
        return created.model_dump(mode="json")

    try:
        print(json.dumps(asyncio.run(_in_transaction(url, settings, work)), indent=2))
    except AppError as exc:
        print(f"refused: {exc.detail}", file=sys.stderr)
        return 2
    return 0


async def _upsert_admin_user(session: AsyncSession, email: str, password: str) -> uuid.UUID:
    """Create the admin-page account, or reset its password and reactivate it."""
    email = email.strip().lower()
    await session.execute(
        text(
            "INSERT INTO admin_users (email, password_hash) VALUES (:email, :hash) "
            "ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, "
            "active = true"
        ),
        {"email": email, "hash": hash_password(password)},
    )
    user_id: uuid.UUID = (
        await session.execute(select(AdminUser.id).where(AdminUser.email == email))
    ).scalar_one()
    return user_id


async def _demo_admin_password(session: AsyncSession, known: str | None) -> str:
    """The demo's admin-page password: kept while it still opens the account, else a new one."""
    stored = await session.scalar(
        select(AdminUser.password_hash).where(AdminUser.email == DEMO_ADMIN_EMAIL, AdminUser.active)
    )
    if known and stored and verify_password(known, stored):
        return known
    password = secrets.token_urlsafe(12)
    await _upsert_admin_user(session, DEMO_ADMIN_EMAIL, password)
    return password


def cmd_create_admin_user(args: argparse.Namespace, settings: Settings) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""
    if len(password) < 12:
        print(
            "a password of at least 12 characters is required on stdin (--password-stdin)",
            file=sys.stderr,
        )
        return 2
    url = database_url(settings)

    async def work(session: AsyncSession) -> str:
        return str(await _upsert_admin_user(session, args.email, password))

    print(
        json.dumps(
            {
                "id": asyncio.run(_in_transaction(url, settings, work)),
                "email": args.email.strip().lower(),
            }
        )
    )
    return 0


def cmd_load_centroids(args: argparse.Namespace, settings: Settings) -> int:
    try:
        rows = read_centroids_csv(Path(args.file))
    except AppError as exc:
        print(f"refused: {exc.detail}", file=sys.stderr)
        return 2
    url = database_url(settings)

    async def work(session: AsyncSession) -> int:
        return await set_centroids(session, rows)

    updated = asyncio.run(_in_transaction(url, settings, work))
    print(json.dumps({"rows": len(rows), "communes_updated": updated}))
    return 0


def cmd_reseal_patient_data(args: argparse.Namespace, settings: Settings) -> int:
    """Re-seal under the first PATIENT_DATA_KEY every value sealed by an older one."""
    url = database_url(settings)
    cipher = cipher_for(settings.patient_data_key)

    async def work() -> Resealed:
        engine = create_engine(url, settings)
        try:
            return await reseal_all(create_sessionmaker(engine), cipher, args.batch)
        finally:
            await engine.dispose()

    done = asyncio.run(work())
    print(json.dumps({"key_id": cipher.key_id, **vars(done)}, indent=2))
    # Values no configured key opens stay as they are: the operator must know.
    return 1 if any(done.undecryptable.values()) else 0


async def _demo_keys(
    session: AsyncSession, known: dict[str, str] | None, territory_id: uuid.UUID
) -> dict[str, str]:
    """The demo's admin and regulator keys: reused while still valid, else issued anew."""
    from app.core.security import hash_api_key

    if known:
        keys = known
        hashes = [hash_api_key(k) for k in keys.values()]
        valid = await session.scalar(
            select(text("count(*)"))
            .select_from(ApiClient)
            .where(ApiClient.key_hash.in_(hashes), ApiClient.active)
        )
        if valid == len(keys):
            return keys
    admin = await api_clients.create_client(
        session, None, ApiClientCreate(name=DEMO_ADMIN_NAME, role="admin")
    )
    regulator = await api_clients.create_client(
        session,
        None,
        ApiClientCreate(name=DEMO_REGULATOR_NAME, role="regulator", territory_ids=[territory_id]),
    )
    return {"admin": admin.api_key, "regulator": regulator.api_key}


# The cyclic collector's first threshold (allocations between two young collections; Python's
# default is 700). A 5,000-item push keeps tens of thousands of containers alive for the
# request: at 700 it set off ~100 young, ~9 middle and ~1 full collection a push, ~65 ms of
# collector a request over the ingest bench (`gc.callbacks` in the served process; the startup
# objects are already frozen by the lifespan); at 20,000, ~15-20 ms. Cyclic garbage waits a
# little longer: a few MB at most.
GC_YOUNG_THRESHOLD = 20_000


def serving_app() -> Any:
    """The app as `serve` runs it (in each worker), with the collector tuned for big requests."""
    from app.main import create_app

    app = create_app()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
    return app


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    embedded = not settings.database_url
    url = database_url(settings)
    if embedded or args.demo:
        # An embedded database is ours to keep at head; a shared server is migrated on purpose.
        migrations.upgrade(url)
    if args.demo:
        key_file = settings.app_data_dir / "demo-keys.json"
        known = json.loads(key_file.read_text()) if key_file.exists() else None
        known_password = known.pop("admin_page_password", None) if known else None

        async def work(session: AsyncSession) -> dict[str, str]:
            territory_id = await demo.seed_demo(session)
            keys = await _demo_keys(session, known, territory_id)
            password = await _demo_admin_password(session, known_password)
            return keys | {"admin_page_password": password}

        keys = asyncio.run(_in_transaction(url, settings, work))
        # Kept on this machine only, readable by its owner, so a restart shows the same keys.
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(json.dumps(keys))
        key_file.chmod(0o600)
        base = f"http://{args.host}:{args.port}"
        print(
            "\nDemo CPTS loaded.\n"
            f"  admin API key:     {keys['admin']}\n"
            f"  regulator API key: {keys['regulator']}\n"
            f"  admin pages:       {base}/admin  ({DEMO_ADMIN_EMAIL} / "
            f"{keys['admin_page_password']})\n"
            f"  API docs:          {base}/docs\n",
            flush=True,
        )
    workers = args.workers
    # The processes sharing each client's rate limit: this server's workers, unless the
    # operator counts the replicas too (core.rate_limit).
    os.environ.setdefault("RATE_LIMIT_PROCESSES", str(workers))
    # Pools sized for the machine unless set: about 4 connections per core, shared by the
    # workers (docs/performance.md, "Serving defaults").
    pool, overflow = recommended_pool(workers)
    os.environ.setdefault("DB_POOL_SIZE", str(pool))
    os.environ.setdefault("DB_MAX_OVERFLOW", str(overflow))
    uvicorn.run(
        "app.cli:serving_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        # One line per request costs a search a tenth of its time: off unless ACCESS_LOG=true
        # (a reverse proxy in front usually logs requests anyway).
        access_log=settings.access_log,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
    return 0


def default_workers() -> int:
    """WEB_CONCURRENCY, else one worker per core: each holds its own search index."""
    configured = os.environ.get("WEB_CONCURRENCY")
    return int(configured) if configured else max(1, os.cpu_count() or 1)


def recommended_pool(workers: int) -> tuple[int, int]:
    """Each worker's pool and overflow: about 4 connections per core in all, at least 2 each."""
    size = max(2, (4 * (os.cpu_count() or 2)) // max(1, workers))
    return size, max(1, size // 2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="bring the database schema to the latest revision")
    sub.add_parser("seed-demo", help="load the demo CPTS and its slots for the next 3 days")

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="worker processes (default: WEB_CONCURRENCY, else one per core)",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load the demo CPTS and print an admin and a regulator key",
    )

    client = sub.add_parser("create-client", help="create an API client and print its key once")
    client.add_argument("--name", required=True)
    client.add_argument(
        "--role", required=True, choices=["admin", "regulator", "practice_software", "sas_platform"]
    )
    client.add_argument("--territory", action="append", default=[], type=uuid.UUID)
    client.add_argument("--professional", action="append", default=[], type=uuid.UUID)
    client.add_argument("--webhook-url", default=None)

    user = sub.add_parser("create-admin-user", help="create (or reset) an admin-page account")
    user.add_argument("--email", required=True)
    user.add_argument("--password-stdin", action="store_true", required=True)

    centroids = sub.add_parser(
        "load-centroids", help="load commune centroids from a CSV (insee_code,lat,lon)"
    )
    centroids.add_argument("file")

    reseal = sub.add_parser(
        "reseal-patient-data",
        help="re-encrypt patient data sealed by an older PATIENT_DATA_KEY with the current one",
    )
    reseal.add_argument("--batch", type=int, default=500)
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "migrate": cmd_migrate,
    "seed-demo": cmd_seed_demo,
    "serve": cmd_serve,
    "create-client": cmd_create_client,
    "create-admin-user": cmd_create_admin_user,
    "load-centroids": cmd_load_centroids,
    "reseal-patient-data": cmd_reseal_patient_data,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return COMMANDS[args.command](args, settings)
