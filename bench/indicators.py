"""Indicators benchmark: a year of a large CPTS's figures, on a year of national-scale facts.

    python -m bench.indicators [--scale 1.0] [--runs 5] [--reuse]

A scratch database `snp_bench_indicators` (dropped and re-created unless `--reuse` finds one
generated today at the same scale) on the server of BENCH_DATABASE_URL or DATABASE_URL, else
the embedded PostgreSQL. The geography is the national bench's (bench/generate.py: 30,000 sites,
50,000 professionals, ~830 CPTS at scale 1.0); on it, a year of facts, by set-based SQL on the
production schema (every constraint and index on):
- the largest CPTS (most professionals): 3 slots of 20 min a day per professional, every day;
- every other professional: 3 slots on one day a week (the other territories are read by no
  measurement, they make the tables and indexes national-sized);
- ~12 % of the slots booked (a booking each: fulfilled, booked or no-show, its search 0-72 h
  before the start, a distance, the médecin traitant known for half), ~2 % cancelled, a released
  hold for 5 % of the free ones; 5 searches audited per booking (30 % by regulators of several
  territories, listing them), an en-sus request for 2 % of the bookings.
Then `services.indicators.territory_indicators` and the JSON encoding of its answer run for the
whole of 2026 for the largest CPTS
and for a median one, `--runs` times each (the first one is reported apart: cold caches); each
statement is timed too. Printed, and written to bench/results/indicators.json.
"""

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.core.auth import Principal
from app.core.db import async_url
from app.services.indicators import sql
from app.services.indicators.service import iso_weeks, period_bounds, territory_indicators
from bench import generate
from bench.database import bench_database_url, recreate_database, with_database

DATABASE = "snp_bench_indicators"
RESULTS = Path(__file__).resolve().parent / "results"
YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)

TARGETS_SQL = """
CREATE TABLE bench.pro_territory AS
SELECT p.seq, p.id, t.id AS territory_id
FROM bench.pros p JOIN bench.sites s ON s.seq = p.site_seq
JOIN bench.territories t ON t.code = s.code AND t.k = s.terr_k;
CREATE INDEX ON bench.pro_territory (seq);
CREATE TABLE bench.targets AS
WITH sized AS (
    SELECT territory_id, count(*) AS pros,
           row_number() OVER (ORDER BY count(*) DESC, territory_id) AS rank_desc,
           count(*) OVER () AS n
    FROM bench.pro_territory GROUP BY territory_id
)
SELECT 'large' AS name, territory_id, pros FROM sized WHERE rank_desc = 1
UNION ALL
SELECT 'median', territory_id, pros FROM sized WHERE rank_desc = n / 2;
"""

# A professional of the largest CPTS works every day; the others on one day a week.
SLOTS_SQL = """
INSERT INTO slots (source_client_id, external_id, professional_id, site_id, start_at, end_at,
                   modality, labels, status)
SELECT c.id, 'y-' || p.seq || '-' || d || '-' || k, p.id, s.id, v.st, v.st + interval '20 min',
       CASE WHEN v.m < 17 THEN 'AMB' WHEN v.m = 17 THEN 'HH' ELSE 'VR' END,
       CASE WHEN v.m % 4 = 0 THEN '{SNP,CPTS}'::text[] ELSE '{SNP}'::text[] END,
       CASE WHEN v.r < 0.12 THEN 'booked' WHEN v.r < 0.14 THEN 'cancelled' ELSE 'free' END
FROM bench.pro_territory p
JOIN bench.pros bp ON bp.seq = p.seq
JOIN bench.sites s ON s.seq = bp.site_seq
JOIN api_clients c ON c.name = $3
CROSS JOIN LATERAL (SELECT p.territory_id = (SELECT territory_id FROM bench.targets
                                              WHERE name = 'large') AS large) AS w
CROSS JOIN LATERAL generate_series(CASE WHEN w.large THEN 0 ELSE p.seq % 7 END, 364,
                                   CASE WHEN w.large THEN 1 ELSE 7 END) d
CROSS JOIN generate_series(0, 2) k
CROSS JOIN LATERAL (
    SELECT ((date '2026-01-01' + d) + time '08:00' + (p.seq % 20) * interval '30 min'
            + k * interval '20 min') AT TIME ZONE s.tz AS st,
           (p.seq * 31 + d * 7 + k) % 20 AS m,
           random() AS r
) v
WHERE p.seq BETWEEN $1 AND $2
"""

BOOKINGS_SQL = """
INSERT INTO bookings (slot_id, regulator_client_id, status, expires_at, territory_id,
                      professional_id, starts_at, searched_at, search_distance_m,
                      medecin_traitant_booked, booked_at, created_at, updated_at)
SELECT sl.id, c.id, f.status, f.created + interval '5 min', si.territory_id,
       sl.professional_id, sl.start_at, f.searched,
       f.distance, f.mt, f.created + interval '2 min', f.created, f.created
FROM slots sl
JOIN sites si ON si.id = sl.site_id
JOIN territories t ON t.id = si.territory_id
JOIN api_clients c ON c.name = $1 || t.departement
CROSS JOIN LATERAL (
    SELECT CASE WHEN r < 0.6 THEN 'fulfilled' WHEN r < 0.9 THEN 'booked' ELSE 'noshow' END
               AS status,
           sl.start_at - random() * interval '72 hours' AS searched,
           random() * 20000 AS distance,
           CASE WHEN r < 0.5 THEN r < 0.05 END AS mt
    FROM (SELECT random() AS r) AS x
) AS g
CROSS JOIN LATERAL (
    SELECT g.status, g.searched, g.searched + interval '1 min' AS created, g.distance, g.mt
) AS f
WHERE sl.status = 'booked'
"""

RELEASED_SQL = """
INSERT INTO bookings (slot_id, regulator_client_id, status, expires_at, territory_id,
                      professional_id, starts_at, created_at, updated_at)
SELECT sl.id, c.id, 'released', sl.start_at - interval '1 hour', si.territory_id,
       sl.professional_id, sl.start_at,
       sl.start_at - interval '2 hours', sl.start_at - interval '2 hours'
FROM slots sl
JOIN sites si ON si.id = sl.site_id
JOIN territories t ON t.id = si.territory_id
JOIN api_clients c ON c.name = $1 || t.departement
WHERE sl.status = 'free' AND random() < 0.05
"""

# Five searches per booking before its hold; 30 % by a regulator of several territories.
SEARCHES_SQL = """
INSERT INTO audit_events (occurred_at, actor_client_id, actor, action, resource_type,
                          territory_id, detail)
SELECT b.searched_at - k * interval '3 min', b.regulator_client_id, 'bench regulator',
       'search.run', 'search', CASE WHEN multi THEN NULL ELSE b.territory_id END,
       jsonb_build_object(
           'candidates', CASE WHEN k = 4 THEN 0 ELSE 5 END, 'radius_km', 10, 'enlarged', false,
           'limit', 10, 'modalities', '["AMB","HH","VR"]'::jsonb,
           'territory_ids', CASE WHEN multi
               THEN jsonb_build_array(b.territory_id::text, gen_random_uuid()::text)
               ELSE jsonb_build_array(b.territory_id::text) END)
FROM bookings b
CROSS JOIN generate_series(0, 4) k
CROSS JOIN LATERAL (SELECT (hashtext(b.id::text) & 1023) < 307 AS multi) AS m
WHERE b.booked_at IS NOT NULL;
"""

EN_SUS_SQL = """
INSERT INTO en_sus_requests (territory_id, regulator_client_id, criteria, status, expires_at,
                             created_at, updated_at)
SELECT b.territory_id, b.regulator_client_id, '{}',
       CASE WHEN random() < 0.5 THEN 'expired' ELSE 'cancelled' END,
       b.searched_at + interval '30 min', b.searched_at, b.searched_at
FROM bookings b WHERE b.booked_at IS NOT NULL AND random() < 0.02;
"""

COUNTED = (
    "territories",
    "sites",
    "professionals",
    "slots",
    "bookings",
    "audit_events",
    "en_sus_requests",
)


async def _slots(url: str, lo: int, hi: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SLOTS_SQL, lo, hi, generate.PRACTICE_SOFTWARE)
    finally:
        await conn.close()


async def build(url: str, scale: float) -> dict[str, Any]:
    """Fill the freshly migrated database with a year of facts; return the row counts."""
    log = generate.Log()
    sites = max(50, round(generate.SITES_AT_SCALE_1 * scale))
    pros = max(80, round(generate.PROFESSIONALS_AT_SCALE_1 * scale))
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(generate.SETUP_SQL)
        await conn.executemany(
            "INSERT INTO bench.deps VALUES ($1, $2, $3, $4, $5)",
            [(d.code, d.lat, d.lon, d.spread_km, d.timezone) for d in generate.departements()],
        )
        script = generate._script  # noqa: SLF001 (the bench's own helper)
        await script(
            conn, generate.WEIGHTS_SQL, sites=sites, per_cpts=generate.INHABITANTS_PER_CPTS
        )
        await script(conn, generate.SITES_SQL)
        await script(conn, generate.PROFESSIONALS_SQL, pros=pros, sites=sites)
        await script(
            conn,
            generate.CLIENTS_SQL,
            practice=generate.PRACTICE_SOFTWARE,
            regulator=generate.REGULATOR,
        )
        await conn.execute(TARGETS_SQL)
        log(f"{sites} sites, {pros} professionals")
        half = pros // 2
        await asyncio.gather(_slots(url, 1, half), _slots(url, half + 1, pros))
        log("a year of slots")
        await conn.execute(BOOKINGS_SQL, generate.REGULATOR)
        await conn.execute(RELEASED_SQL, generate.REGULATOR)
        log("bookings and holds")
        await conn.execute(SEARCHES_SQL)
        await conn.execute(EN_SUS_SQL)
        log("searches and en-sus requests")
        for table in ("slots", "bookings", "audit_events", "en_sus_requests", "sites"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        log("vacuum and analyze")
        counts: dict[str, Any] = {
            t: int(await conn.fetchval(f"SELECT count(*) FROM {t}"))  # noqa: S608
            for t in COUNTED
        }
        counts["targets"] = {
            r["name"]: {"territory_id": str(r["territory_id"]), "professionals": r["pros"]}
            for r in await conn.fetch("SELECT * FROM bench.targets")
        }
        await conn.execute(
            "INSERT INTO bench.meta VALUES ($1, current_date, $2)", scale, json.dumps(counts)
        )
        return counts
    finally:
        await conn.close()


async def _existing(url: str, scale: float) -> dict[str, Any] | None:
    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        row = await conn.fetchrow("SELECT scale, generated_on, counts FROM bench.meta LIMIT 1")
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    if row is None or row["scale"] != scale or row["generated_on"] != date.today():
        return None
    counts: dict[str, Any] = json.loads(row["counts"])
    return counts


async def measure(url: str, territory_id: uuid.UUID, runs: int) -> dict[str, Any]:
    """Times of the whole figure set (the service function) and of each statement, in ms."""
    engine = create_async_engine(async_url(url))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    admin = Principal(client_id=uuid.uuid4(), name="bench", role="admin")
    totals: list[float] = []
    statements: dict[str, list[float]] = {}
    try:
        for _ in range(runs + 1):
            async with sessions() as session:
                started = time.perf_counter()
                figures = await territory_indicators(
                    session, admin, territory_id, YEAR_START, YEAR_END
                )
                body = orjson.dumps(figures)  # what the router sends
                totals.append((time.perf_counter() - started) * 1000)
                await session.rollback()
        zone = figures["period"]["timezone"]
        start, end = period_bounds(YEAR_START, YEAR_END, zone)
        params = {
            "territory_id": territory_id,
            "start": start,
            "end": end,
            "weeks": [at for _, at in iso_weeks(YEAR_START, YEAR_END, zone)],
        }
        for name in (
            "SLOTS",
            "SEARCHES",
            "HOLDS",
            "BOOKINGS",
            "MAJORATION",
            "EN_SUS",
        ):
            async with sessions() as session:
                await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    await session.execute(getattr(sql, name), params)
                    times.append((time.perf_counter() - started) * 1000)
                statements[name.lower()] = times
    finally:
        await engine.dispose()
    t = figures["totals"]
    return {
        "first_ms": round(totals[0], 1),
        "median_ms": round(statistics.median(totals[1:]), 1),
        "max_ms": round(max(totals[1:]), 1),
        "statements_median_ms": {k: round(statistics.median(v), 1) for k, v in statements.items()},
        "figures": {
            "slots_offered": t["slots_offered"],
            "searches": t["searches"],
            "holds": t["holds"],
            "bookings": t["bookings"],
            "professionals": len(figures["professionals"]),
            "slot_rows": len(figures["slots"]),
            "json_bytes": len(body),
        },
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = with_database(bench_database_url(), DATABASE)
    counts = await _existing(url, args.scale) if args.reuse else None
    if counts is None:
        print(f"generating a year of facts at scale {args.scale} in {DATABASE}", flush=True)
        await recreate_database(url)
        counts = await build(url, args.scale)
    print(f"data: {json.dumps(counts)}", flush=True)
    results: dict[str, Any] = {"scale": args.scale, "runs": args.runs, "data": counts}
    for name, target in counts["targets"].items():
        results[name] = await measure(url, uuid.UUID(target["territory_id"]), args.runs)
    return results


def _print(results: dict[str, Any]) -> None:
    print(f"\nGET /v1/indicators for 2026 (a year), scale {results['scale']}:")
    for name in ("large", "median"):
        r = results[name]
        pros = results["data"]["targets"][name]["professionals"]
        print(
            f"  {name:6} CPTS ({pros} professionals; {r['figures']['slots_offered']} slots, "
            f"{r['figures']['bookings']} bookings, {r['figures']['searches']} searches): "
            f"median {r['median_ms']} ms, max {r['max_ms']} ms, first (cold) {r['first_ms']} ms"
        )
        print(
            "         statements (median ms): "
            + ", ".join(f"{k} {v}" for k, v in r["statements_median_ms"].items())
        )


def measure_year(scale: float, runs: int = 5) -> dict[str, Any]:
    """The step of `python -m bench`: today's data is reused; prints and returns the figures."""
    results = asyncio.run(run(argparse.Namespace(scale=scale, runs=runs, reuse=True)))
    _print(results)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.indicators", description=__doc__)
    p.add_argument("--scale", type=float, default=1.0, help="1.0 = 30,000 sites, 50,000 pros")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--reuse", action="store_true", help="keep today's data at this scale")
    args = p.parse_args(argv)
    results = asyncio.run(run(args))
    _print(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "indicators.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
