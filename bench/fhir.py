"""`python -m bench.fhir`: p99 of the SAS platform's FHIR Slot search on national-scale data.

The search of the certification kit's CPTS flow (INT_R04), with every include, for 25
practitioners over 3 days (now to now + 72 h), each request drawing 25 other practitioners who
have slots in that window; the CPTS-labelled share of their slots carries the HealthcareService
and Organization. Data: `bench.generate` at `--scale` (1.0: 30,000 sites, 50,000
professionals, 2.1 million slots) in its own database `snp_bench_fhir` (reused when it holds
today's data at that scale), with a SAS platform client of every territory. The service runs
as a real `python -m app serve` process; requests go one at a time over a kept-alive
connection, and the latency is the client's (request written to answer read).
"""

import argparse
import asyncio
import random
import socket
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from app.core.security import new_api_key
from bench import generate, servers
from bench.database import bench_database_url, recreate_database, with_database

DATABASE = "snp_bench_fhir"
TARGET_P99_MS = 20.0
PS = "schedule.actor:Practitioner.identifier"
OID_PS = "urn:oid:1.2.250.1.71.4.2.1"


async def prepare(url: str, scale: float, regenerate: bool) -> None:
    counts = None if regenerate else await generate.existing_data(url, scale)
    if counts is None:
        print(f"generating bench data at scale {scale} (this takes minutes)", flush=True)
        await recreate_database(url)
        counts = await generate.generate(url, scale, generate.Log())
    print(f"data: {counts}", flush=True)


async def sas_key_and_practitioners(url: str, pool_size: int) -> tuple[str, list[str]]:
    """A SAS platform client of every territory (a fresh key), and RPPS with slots soon."""
    key, prefix, key_hash = new_api_key()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM api_clients WHERE name = 'bench sas platform'")
        client_id = await conn.fetchval(
            "INSERT INTO api_clients (name, role, key_prefix, key_hash) "
            "VALUES ('bench sas platform', 'sas_platform', $1, $2) RETURNING id",
            prefix,
            key_hash,
        )
        await conn.execute(
            "INSERT INTO api_client_territories SELECT $1, id FROM territories", client_id
        )
        rows = await conn.fetch(
            """SELECT p.rpps FROM professionals p
               WHERE EXISTS (SELECT 1 FROM slots s WHERE s.professional_id = p.id
                             AND s.status = 'free' AND s.start_at > now()
                             AND s.start_at < now() + interval '72 hours')
               ORDER BY random() LIMIT $1""",
            pool_size,
        )
        rpps = [r["rpps"] for r in rows]
        # A third of these practitioners' slots are CPTS slots (HealthcareService, Organization).
        await conn.execute(
            """UPDATE slots s SET labels = ARRAY['SNP', 'CPTS']
               FROM professionals p
               WHERE p.id = s.professional_id AND p.rpps = ANY($1::text[])
                 AND NOT ('CPTS' = ANY(s.labels)) AND s.start_at > now()
                 AND s.start_at < now() + interval '4 days' AND random() < 0.33""",
            rpps,
        )
    finally:
        await conn.close()
    return key, rpps


def params(rpps: list[str], start: datetime) -> httpx.QueryParams:
    end = start + timedelta(hours=72)
    return httpx.QueryParams(
        [
            ("_include", "Slot:schedule"),
            ("_include", "Slot:service-type-reference"),
            ("_include:iterate", "Schedule:actor"),
            ("_include:iterate", "HealthcareService:organization"),
            (PS, ",".join(f"{OID_PS}|8{r}" for r in rpps)),
            ("start", "ge" + start.isoformat(timespec="seconds")),
            ("start", "le" + end.isoformat(timespec="seconds")),
            ("status", "free"),
        ]
    )


def measure(
    base_url: str, key: str, pool: list[str], requests: int, warmup: int
) -> dict[str, float]:
    rng = random.Random(7)  # noqa: S311 (a reproducible draw)
    latencies: list[float] = []
    server: list[float] = []
    database: list[float] = []
    sizes: list[int] = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        for i in range(warmup + requests):
            chosen = rng.sample(pool, 25)
            query = params(chosen, datetime.now(UTC).replace(microsecond=0))
            began = time.perf_counter()
            response = client.get("/fhir/Slot", params=query)
            elapsed = (time.perf_counter() - began) * 1000
            if response.status_code != 200:
                raise SystemExit(f"search failed: {response.status_code} {response.text[:300]}")
            if i >= warmup:
                latencies.append(elapsed)
                timing = _server_timing(response.headers.get("server-timing", ""))
                server.append(timing.get("total", 0.0))
                database.append(timing.get("db", 0.0))
                sizes.append(response.json()["total"])
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p90_ms": quantiles[89],
        "p99_ms": quantiles[98],
        "max_ms": max(latencies),
        "server_p50_ms": statistics.median(server),
        "server_p99_ms": statistics.quantiles(server, n=100)[98],
        "db_p50_ms": statistics.median(database),
        "db_p99_ms": statistics.quantiles(database, n=100)[98],
        "slots_per_answer": statistics.mean(sizes),
    }


def _server_timing(header: str) -> dict[str, float]:
    """`db;dur=1.2;desc="…", total;dur=2.3` → {"db": 1.2, "total": 2.3}."""
    found: dict[str, float] = {}
    for part in header.split(","):
        name, _, rest = part.strip().partition(";")
        for item in rest.split(";"):
            if item.startswith("dur="):
                found[name] = float(item[4:])
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fhir", description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--port", type=int, default=0, help="0: a free port")
    p.add_argument("--regenerate", action="store_true")
    args = p.parse_args(argv)
    url = with_database(bench_database_url(), DATABASE)
    asyncio.run(prepare(url, args.scale, args.regenerate))
    key, pool = asyncio.run(sas_key_and_practitioners(url, 2000))
    if len(pool) < 25:
        raise SystemExit(f"only {len(pool)} practitioners have free slots in the next 72 h")
    port = args.port or _free_port()
    service = servers.start_service(url, port, args.workers, 4, 2)
    try:
        result = measure(service.base_url, key, pool, args.requests, args.warmup)
    finally:
        service.stop()
    print(
        f"FHIR Slot search, 25 practitioners, 72 h, all includes, scale {args.scale}, "
        f"{result['requests']} sequential requests ({args.workers} worker): "
        f"p50 {result['p50_ms']:.1f} ms, p90 {result['p90_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms (in the server: p50 "
        f"{result['server_p50_ms']:.1f}, p99 {result['server_p99_ms']:.1f} ms; of which "
        f"database p50 {result['db_p50_ms']:.1f}, p99 {result['db_p99_ms']:.1f} ms); "
        f"{result['slots_per_answer']:.0f} slots per answer; target p99 <= {TARGET_P99_MS:.0f} ms: "
        f"{'met' if result['p99_ms'] <= TARGET_P99_MS else 'NOT met'}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
