"""Ingest benchmark: 5,000-slot batches through `PUT /v1/slots` beside a raw COPY of the same rows.

    python -m bench.ingest [--rounds 3] [--batches 4] [--professionals 500] [--json out.json]
        [--database snp_bench_ingest]

The service runs as in production (`python -m app serve`, a real uvicorn on loopback) against a
scratch database `snp_bench_ingest` (dropped and re-created each run) on the server named by
BENCH_DATABASE_URL or DATABASE_URL, else on the embedded PostgreSQL. The baseline COPYs the same
rows with asyncpg into a scratch table with the same indexes and constraints as `slots` (unique,
exclusion, GiST, checks, foreign keys), one transaction a batch. Runs are interleaved (COPY batch,
then the same batch over HTTP) so both see the same machine. The service figure includes
validation, the per-item answer and the outbox events. Targets, in the same run: ≥ 15,000 slots/s
and ≥ 0.6 × the raw COPY for new slots; an unchanged re-push of a batch (which writes nothing)
in ≤ 0.25 × the time of creating it.
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import orjson

from app.core import migrations
from app.core.config import get_settings
from app.core.db import plain_url
from app.core.security import hash_api_key
from app.models.slot import slot_digest
from app.services.slots.rows import COLUMNS

DATABASE = "snp_bench_ingest"
BATCH = 5_000
SLOTS_A_DAY = 10  # per professional: 10 × 20 min, so a batch is BATCH / SLOTS_A_DAY professionals
TARGET = 15_000
TARGET_RATIO = 0.6  # PUT of new slots / raw COPY, same run
TARGET_REPUSH = 0.25  # unchanged re-push time / creation time, same run


@dataclass
class World:
    url: str
    key: str
    client_id: uuid.UUID
    professionals: list[tuple[uuid.UUID, str, uuid.UUID]]  # id, rpps, site


def server_url() -> str:
    explicit = os.environ.get("BENCH_DATABASE_URL") or get_settings().database_url
    if explicit:
        return plain_url(explicit)
    from app.core.embedded import start_embedded_postgres

    return plain_url(start_embedded_postgres(get_settings().app_data_dir, "postgres"))


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


async def prepare(server: str, professionals: int, database: str = DATABASE) -> World:
    """A fresh, migrated database with one territory, sites, professionals and a client key."""
    admin = await asyncpg.connect(with_database(server, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    url = with_database(server, database)
    await migrations.upgrade_async(url)
    key = f"snp_bench_{uuid.uuid4().hex}"
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            territory = await conn.fetchval(
                "INSERT INTO territories (name, finess, departement) "
                "VALUES ('CPTS bench', '440000000', '44') RETURNING id"
            )
            sites = await conn.fetch(
                """
                INSERT INTO sites (territory_id, name, address, postcode, insee_code, lat, lon)
                SELECT $1, 'Site ' || g, g || ' rue du Bench', '44000', '44109',
                       47.0 + g * 0.01, -1.5 - g * 0.01
                FROM generate_series(1, 50) g
                RETURNING id
                """,
                territory,
            )
            pros = await conn.fetch(
                """
                INSERT INTO professionals (rpps, family_name, given_name, profession)
                SELECT lpad((10000000000 + g)::text, 11, '0'), 'Bench', 'Pro ' || g, '10'
                FROM generate_series(1, $1) g
                RETURNING id, rpps
                """,
                professionals,
            )
            placed = [(p["id"], p["rpps"], sites[i % len(sites)]["id"]) for i, p in enumerate(pros)]
            await conn.executemany(
                "INSERT INTO site_professionals (site_id, professional_id) VALUES ($1, $2)",
                [(site, pro) for pro, _, site in placed],
            )
            client_id = await conn.fetchval(
                "INSERT INTO api_clients (name, role, key_prefix, key_hash) "
                "VALUES ('bench software', 'practice_software', $1, $2) RETURNING id",
                key[:16],
                hash_api_key(key),
            )
            await conn.executemany(
                "INSERT INTO api_client_professionals (client_id, professional_id) VALUES ($1, $2)",
                [(client_id, pro) for pro, *_ in placed],
            )
            await conn.execute(
                """
                CREATE TABLE bench_copy_slots (LIKE slots INCLUDING ALL);
                ALTER TABLE bench_copy_slots
                    ADD FOREIGN KEY (source_client_id) REFERENCES api_clients (id),
                    ADD FOREIGN KEY (professional_id) REFERENCES professionals (id),
                    ADD FOREIGN KEY (site_id) REFERENCES sites (id);
                """
            )
    finally:
        await conn.close()
    return World(
        url=url,
        key=key,
        client_id=client_id,
        professionals=placed,
    )


def batches(world: World, count: int) -> list[list[dict[str, Any]]]:
    """`count` batches of BATCH items; batch b fills day b + 1 of BATCH / SLOTS_A_DAY pros."""
    day0 = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=7, minute=0, second=0, microsecond=0
    )
    per_batch = BATCH // SLOTS_A_DAY
    out = []
    for b in range(count):
        items = []
        for p in range(per_batch):
            pro, rpps, site = world.professionals[p % len(world.professionals)]
            for k in range(SLOTS_A_DAY):
                start = day0 + timedelta(days=b, minutes=20 * k)
                items.append(
                    {
                        "external_id": f"b{b}-p{p}-k{k}",
                        "professional_rpps": rpps,
                        "site_id": str(site),
                        "start": start.isoformat(),
                        "end": (start + timedelta(minutes=20)).isoformat(),
                        "modality": "AMB",
                        "labels": ["SNP"],
                        "_pro": pro,
                    }
                )
        out.append(items)
    return out


async def copy_batch(conn: asyncpg.Connection, world: World, items: list[dict[str, Any]]) -> float:
    where = {pro: site for pro, _, site in world.professionals}
    records = []
    for it in items:
        site = where[it["_pro"]]
        start, end = datetime.fromisoformat(it["start"]), datetime.fromisoformat(it["end"])
        digest = slot_digest(it["_pro"], site, start, end, it["modality"], it["labels"], None)
        records.append(
            (
                uuid.uuid4(),
                world.client_id,
                it["external_id"],
                it["_pro"],
                site,
                start,
                end,
                it["modality"],
                it["labels"],
                None,
                digest,
            )
        )
    began = time.perf_counter()
    async with conn.transaction():
        await conn.copy_records_to_table("bench_copy_slots", records=records, columns=COLUMNS)
    return time.perf_counter() - began


def server_timing(header: str) -> dict[str, float]:
    """`db` and `total` of a `Server-Timing` header, in seconds (what the service measured)."""
    out: dict[str, float] = {}
    for part in header.split(","):
        name, *params = part.strip().split(";")
        for param in params:
            if param.startswith("dur="):
                out[name] = float(param[4:]) / 1000
    return out


async def put_batch(
    http: httpx.AsyncClient, key: str, body: bytes, expect: str, timings: list[dict[str, float]]
) -> float:
    began = time.perf_counter()
    response = await http.put(
        "/v1/slots",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    elapsed = time.perf_counter() - began
    if response.status_code != 200:
        raise SystemExit(f"PUT /v1/slots answered {response.status_code}: {response.text[:500]}")
    counts = response.json()["counts"]
    if counts[expect] != BATCH:
        raise SystemExit(f"expected {BATCH} {expect}, got {counts}")
    timings.append(server_timing(response.headers.get("server-timing", "")))
    return elapsed


def _inside(timing: dict[str, float]) -> str:
    """The service's own figures (its SQLAlchemy statements only: not the COPYs)."""
    return f"(server {timing.get('total', 0) * 1000:.0f}, db {timing.get('db', 0) * 1000:.0f})"


def start_service(url: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    return process, f"http://127.0.0.1:{port}"


async def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit("the service exited before it was ready")
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the service did not become ready in 30 s")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    world = await prepare(server_url(), args.professionals, getattr(args, "database", DATABASE))
    all_batches = batches(world, args.rounds * args.batches)
    bodies = [
        orjson.dumps({"slots": [{k: v for k, v in it.items() if k != "_pro"} for it in b]})
        for b in all_batches
    ]
    process, base = start_service(world.url)
    copy_times: list[float] = []
    create_times: list[float] = []
    repush_times: list[float] = []
    create_server: list[dict[str, float]] = []
    repush_server: list[dict[str, float]] = []
    try:
        await wait_ready(base, process)
        conn = await asyncpg.connect(world.url)
        timeout = httpx.Timeout(120.0)
        async with httpx.AsyncClient(base_url=base, timeout=timeout) as http:
            for i, (items, body) in enumerate(zip(all_batches, bodies, strict=True)):
                copy_times.append(await copy_batch(conn, world, items))
                create_times.append(
                    await put_batch(http, world.key, body, "created", create_server)
                )
                repush_times.append(
                    await put_batch(http, world.key, body, "unchanged", repush_server)
                )
                print(
                    f"batch {i + 1}/{len(bodies)}: COPY {copy_times[-1] * 1000:.0f} ms, "
                    f"PUT {create_times[-1] * 1000:.0f} ms {_inside(create_server[-1])}, "
                    f"re-PUT {repush_times[-1] * 1000:.0f} ms {_inside(repush_server[-1])}",
                    flush=True,
                )
        await conn.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return summarise(copy_times, create_times, repush_times)


def summarise(copy: list[float], create: list[float], repush: list[float]) -> dict[str, Any]:
    rate = {
        "copy_slots_per_s": BATCH / median(copy),
        "put_created_slots_per_s": BATCH / median(create),
        "put_unchanged_slots_per_s": BATCH / median(repush),
    }
    ratio = rate["put_created_slots_per_s"] / rate["copy_slots_per_s"]
    repush_ratio = median(repush) / median(create)
    return {
        **{k: round(v) for k, v in rate.items()},
        "ratio_put_to_copy": round(ratio, 3),
        "ratio_repush_to_create_time": round(repush_ratio, 3),
        "target_slots_per_s": TARGET,
        "target_met": rate["put_created_slots_per_s"] >= TARGET,
        "target_ratio": TARGET_RATIO,
        "target_ratio_met": ratio >= TARGET_RATIO,
        "target_repush": TARGET_REPUSH,
        "target_repush_met": repush_ratio <= TARGET_REPUSH,
        "batch": BATCH,
        "batches": len(copy),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=4, help="batches a round (one day each)")
    parser.add_argument("--professionals", type=int, default=BATCH // SLOTS_A_DAY)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--database", default=DATABASE, help="the scratch database (dropped and re-created)"
    )
    args = parser.parse_args()
    if args.rounds * args.batches > 55:
        parser.error("at most 55 batches: slots may start at most 60 days ahead")
    figures = asyncio.run(run(args))
    print()
    print(f"{'path':<34}{'slots/s':>10}")
    print(f"{'raw COPY (same rows, same table)':<34}{figures['copy_slots_per_s']:>10}")
    print(f"{'PUT /v1/slots, new slots':<34}{figures['put_created_slots_per_s']:>10}")
    print(f"{'PUT /v1/slots, unchanged re-push':<34}{figures['put_unchanged_slots_per_s']:>10}")

    def met(flag: bool) -> str:
        return "met" if flag else "NOT met"

    print(
        f"ratio PUT/COPY {figures['ratio_put_to_copy']} (target ≥ {TARGET_RATIO}: "
        f"{met(figures['target_ratio_met'])}); target ≥ {TARGET} slots/s: "
        f"{met(figures['target_met'])}"
    )
    print(
        f"re-push time / creation time {figures['ratio_repush_to_create_time']} "
        f"(target ≤ {TARGET_REPUSH}: {met(figures['target_repush_met'])})"
    )
    print(orjson.dumps(figures).decode())
    if args.json:
        args.json.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
