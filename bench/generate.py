"""National-scale bench data, by set-based SQL on the production schema (every constraint on).

Scale 1.0: 30,000 sites and 50,000 professionals spread over metropolitan France and the
overseas départements in proportion to their population (app/data/communes.csv), around each
département's barycentre (app/data/sas_search_radii_2025.csv; the overseas ones, absent from
that table, are set below) with a normal spread that grows with the département's area; CPTS
territories of ~82,000 inhabitants each; 3 slots of 20 min a day per professional over 14 days
(2.1 million slots, 08:00-18:10 local time) of which ~5 % held (for an hour) and ~10 % booked; one
practice-software client for every professional, one regulator per département and one for
all territories (`all`: a national regulator, for experiments with a wide scope).

Shape `large-territory` (issue 15, "one large territory (2,000 sites, 200,000 slots)"): at scale
1.0, one CPTS territory of 2,000 sites spread around the barycentre of one large département
(Gironde, the same normal spread as above) and 4,762 professionals, with the same slots (3 a day
over 14 days: 200,000 slots, ~5 % held, ~10 % booked), the same clients and one regulator.
"""

import asyncio
import csv
import json
import math
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import asyncpg

from app.core.security import new_api_key

DATA = Path(__file__).resolve().parents[1] / "app" / "data"
SITES_AT_SCALE_1 = 30_000
PROFESSIONALS_AT_SCALE_1 = 50_000
SLOT_DAYS = 14
SLOTS_PER_DAY = 3
INHABITANTS_PER_CPTS = 82_000
SHAPES = ("national", "large-territory")
LARGE_TERRITORY_SITES = 2_000
LARGE_TERRITORY_SLOTS = 200_000
LARGE_TERRITORY_DEPARTEMENT = "33"  # Gironde: 10,000 km², 1.6 M inhabitants
PRACTICE_SOFTWARE = "bench practice software"
REGULATOR = "bench regulator "  # + département code

# Not in the radius table (zero barycentre): lat, lon, spread (km), zone.
OVERSEAS = {
    "971": (16.20, -61.55, 12.0, "America/Guadeloupe"),
    "972": (14.64, -61.02, 9.0, "America/Martinique"),
    "973": (4.93, -52.33, 20.0, "America/Cayenne"),
    "974": (-21.11, 55.53, 14.0, "Indian/Reunion"),
    "976": (-12.80, 45.15, 6.0, "Indian/Mayotte"),
}


@dataclass(frozen=True)
class Departement:
    code: str
    lat: float
    lon: float
    spread_km: float
    timezone: str


def departements() -> list[Departement]:
    """Every département of the radius table with a barycentre and a spread around it."""
    out = []
    with (DATA / "sas_search_radii_2025.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            raw = row["code"]
            code = {"20A": "2A", "20B": "2B"}.get(raw, raw.zfill(2) if raw.isdigit() else raw)
            if code in OVERSEAS:
                lat, lon, spread, zone = OVERSEAS[code]
                out.append(Departement(code, lat, lon, spread, zone))
                continue
            area = float(row["area"]) or 100.0
            lat, lon = float(row["barycentreCityLat"]), float(row["barycentreCityLon"])
            # A quarter of the side of a square of the same area: most sites stay inside.
            out.append(Departement(code, lat, lon, max(2.0, math.sqrt(area) / 4), "Europe/Paris"))
    return out


SETUP_SQL = """
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.meta (scale float8, generated_on date, counts jsonb, shape text);
CREATE TABLE bench.deps (code text PRIMARY KEY, lat float8, lon float8, spread_km float8,
                         tz text);
"""

WEIGHTS_SQL = """
CREATE TABLE bench.weights AS
SELECT d.*, c.pop, c.n_communes,
       greatest(1, round(@sites::float8 * c.pop / sum(c.pop) OVER ()))::int AS n_sites,
       greatest(1, round(c.pop / @per_cpts::float8))::int AS n_territories
FROM bench.deps d
JOIN (SELECT departement, sum(population)::float8 AS pop, count(*) AS n_communes
      FROM communes WHERE postcodes[1] ~ '^[0-9]{5}$' GROUP BY departement) c
  ON c.departement = d.code;

CREATE TABLE bench.communes AS
SELECT departement AS code, insee_code, postcodes[1] AS postcode,
       row_number() OVER (PARTITION BY departement ORDER BY insee_code) AS n
FROM communes WHERE postcodes[1] ~ '^[0-9]{5}$';
CREATE INDEX ON bench.communes (code, n);

CREATE TABLE bench.territories AS
SELECT gen_random_uuid() AS id, w.code, k, w.tz
FROM bench.weights w, generate_series(1, w.n_territories) k;

INSERT INTO territories (id, name, finess, departement, timezone)
SELECT id, 'CPTS bench ' || code || '-' || k,
       lpad((900000000 + row_number() OVER (ORDER BY code, k))::text, 9, '0'), code, tz
FROM bench.territories;
"""

SITES_SQL = """
CREATE TABLE bench.sites AS
SELECT row_number() OVER () AS seq, gen_random_uuid() AS id, x.code, x.tz, x.terr_k, x.commune_n,
       greatest(-89.9, least(89.9, x.lat + x.dy / 111.2)) AS lat,
       x.lon + x.dx / (111.2 * cos(radians(x.lat))) AS lon
FROM (
    SELECT w.code, w.tz, w.lat, w.lon,
           1 + floor(random() * w.n_territories)::int AS terr_k,
           1 + floor(random() * w.n_communes)::int AS commune_n,
           w.spread_km * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS dx,
           w.spread_km * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS dy
    FROM bench.weights w CROSS JOIN LATERAL generate_series(1, w.n_sites) i
) x;
CREATE UNIQUE INDEX ON bench.sites (seq);

INSERT INTO sites (id, territory_id, name, address, postcode, insee_code, lat, lon, timezone,
                   accessible)
SELECT s.id, t.id, 'Maison de santé bench ' || s.seq, s.seq || ' rue de la Santé',
       c.postcode, c.insee_code, s.lat, s.lon, s.tz, s.seq % 2 = 0
FROM bench.sites s
JOIN bench.territories t ON t.code = s.code AND t.k = s.terr_k
JOIN bench.communes c ON c.code = s.code AND c.n = s.commune_n;
"""

PROFESSIONALS_SQL = """
CREATE TABLE bench.pros AS
SELECT i AS seq, gen_random_uuid() AS id, 1 + (i - 1) % @sites AS site_seq
FROM generate_series(1, @pros::int) i;
CREATE UNIQUE INDEX ON bench.pros (seq);

INSERT INTO professionals (id, rpps, family_name, given_name, profession, specialty,
                           sas_participant, accepts_en_sus, languages)
SELECT id, '1' || lpad(seq::text, 10, '0'),
       (ARRAY['Martin','Bernard','Thomas','Petit','Robert','Richard','Durand','Dubois',
              'Moreau','Laurent'])[1 + seq % 10],
       (ARRAY['Camille','Louise','Hugo','Léa','Jules','Chloé','Lucas','Inès'])[1 + seq % 8],
       '10', CASE WHEN seq % 25 = 0 THEN 'SM26' ELSE 'SM54' END,
       seq % 10 < 6, seq % 5 = 0,
       CASE WHEN seq % 7 = 0 THEN '{fr,en}'::text[] ELSE '{fr}'::text[] END
FROM bench.pros;

INSERT INTO site_professionals (site_id, professional_id)
SELECT s.id, p.id FROM bench.pros p JOIN bench.sites s ON s.seq = p.site_seq
UNION ALL
SELECT s.id, p.id FROM bench.pros p JOIN bench.sites s ON s.seq = 1 + (p.seq * 7919) % @sites
WHERE p.seq % 10 = 0 AND 1 + (p.seq * 7919) % @sites <> p.site_seq;
"""

CLIENTS_SQL = """
INSERT INTO api_clients (name, role, key_prefix, key_hash)
VALUES (@practice, 'practice_software', 'bench_unset_ps', 'unset-ps');
INSERT INTO api_clients (name, role, key_prefix, key_hash)
SELECT @regulator || code, 'regulator', 'bench_unset_' || code, 'unset-' || code FROM bench.weights;
INSERT INTO api_clients (name, role, key_prefix, key_hash)
VALUES (@regulator || 'all', 'regulator', 'bench_unset_all', 'unset-all');
INSERT INTO api_client_territories (client_id, territory_id)
SELECT c.id, t.id FROM bench.territories t
JOIN api_clients c ON c.name = @regulator || t.code OR c.name = @regulator || 'all';
INSERT INTO api_client_professionals (client_id, professional_id)
SELECT c.id, p.id FROM bench.pros p, api_clients c WHERE c.name = @practice;
"""

# One professional's slots: 3 consecutive 20-minute slots a day, never overlapping.
SLOTS_SQL = """
INSERT INTO slots (source_client_id, external_id, professional_id, site_id, start_at, end_at,
                   modality, labels, status, hold_expires_at)
SELECT c.id, 'g-' || p.seq || '-' || d || '-' || k, p.id, s.id, v.st, v.st + interval '20 min',
       CASE WHEN v.m < 17 THEN 'AMB' WHEN v.m = 17 THEN 'HH' ELSE 'VR' END, '{SNP}',
       CASE WHEN v.r < 0.05 THEN 'held' WHEN v.r < 0.15 THEN 'booked' ELSE 'free' END,
       CASE WHEN v.r < 0.05 THEN now() + interval '1 hour' END
FROM bench.pros p
JOIN bench.sites s ON s.seq = p.site_seq
JOIN api_clients c ON c.name = $3
CROSS JOIN generate_series(0, $4::int - 1) d
CROSS JOIN generate_series(0, $5::int - 1) k
CROSS JOIN LATERAL (
    SELECT ((now() AT TIME ZONE s.tz)::date + d + time '08:00'
            + (p.seq % 20) * interval '30 min' + k * interval '20 min') AT TIME ZONE s.tz AS st,
           (p.seq * 31 + d * 7 + k) % 20 AS m,
           random() AS r
) v
WHERE p.seq BETWEEN $1 AND $2;
"""

BOOKINGS_SQL = """
INSERT INTO bookings (slot_id, regulator_client_id, status, expires_at, booked_at)
SELECT sl.id, c.id, sl.status, sl.hold_expires_at,
       CASE WHEN sl.status = 'booked' THEN now() END
FROM slots sl
JOIN sites si ON si.id = sl.site_id
JOIN territories t ON t.id = si.territory_id
JOIN api_clients c ON c.name = $1 || t.departement
WHERE sl.status IN ('held', 'booked');
"""


async def _insert_slots(url: str, lo: int, hi: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SLOTS_SQL, lo, hi, PRACTICE_SOFTWARE, SLOT_DAYS, SLOTS_PER_DAY)
    finally:
        await conn.close()


def sizes(scale: float, shape: str = "national") -> tuple[int, int]:
    """(sites, professionals) of a shape at a scale."""
    if shape == "large-territory":
        sites = max(50, round(LARGE_TERRITORY_SITES * scale))
        slots = LARGE_TERRITORY_SLOTS * scale
        return sites, max(80, round(slots / (SLOT_DAYS * SLOTS_PER_DAY)))
    if shape != "national":
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    return max(50, round(SITES_AT_SCALE_1 * scale)), max(
        80, round(PROFESSIONALS_AT_SCALE_1 * scale)
    )


async def generate(url: str, scale: float, log: "Log", shape: str = "national") -> dict[str, int]:
    """Fill the (freshly migrated) bench database; return the row counts."""
    sites, professionals = sizes(scale, shape)
    deps = departements()
    if shape == "large-territory":
        deps = [d for d in deps if d.code == LARGE_TERRITORY_DEPARTEMENT]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SETUP_SQL)
        await conn.executemany(
            "INSERT INTO bench.deps VALUES ($1, $2, $3, $4, $5)",
            [(d.code, d.lat, d.lon, d.spread_km, d.timezone) for d in deps],
        )
        if shape == "large-territory":
            # All the département's sites in one territory (the national shape cuts CPTS).
            weights = WEIGHTS_SQL.replace(
                "round(c.pop / @per_cpts::float8))::int AS n_territories", "1) AS n_territories"
            )
            assert weights != WEIGHTS_SQL
        else:
            weights = WEIGHTS_SQL
        await _script(conn, weights, sites=sites, per_cpts=INHABITANTS_PER_CPTS)
        log("territories")
        await _script(conn, SITES_SQL)
        log(f"{sites} sites")
        await _script(conn, PROFESSIONALS_SQL, pros=professionals, sites=sites)
        log(f"{professionals} professionals")
        await _script(conn, CLIENTS_SQL, practice=PRACTICE_SOFTWARE, regulator=REGULATOR)
        # Two backends share the slot inserts: the exclusion constraint and the GiST indexes
        # are CPU-bound, and this machine has two cores.
        half = professionals // 2
        await asyncio.gather(
            _insert_slots(url, 1, half), _insert_slots(url, half + 1, professionals)
        )
        log("slots")
        await conn.execute(BOOKINGS_SQL, REGULATOR)
        for table in ("slots", "bookings", "sites", "professionals", "site_professionals"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        await conn.execute("ANALYZE")
        counts = {
            table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
            for table in ("territories", "sites", "professionals", "slots", "bookings")
        }
        await conn.execute(
            "INSERT INTO bench.meta VALUES ($1, current_date, $2, $3)",
            scale,
            json.dumps(counts),
            shape,
        )
        log("vacuum and analyze")
        return counts
    finally:
        await conn.close()


async def existing_data(url: str, scale: float, shape: str = "national") -> dict[str, int] | None:
    """The counts of data generated today at this scale and shape, if the database holds it."""
    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        # A database generated before shapes existed has no `shape` column: national.
        row = await conn.fetchrow(
            "SELECT scale, generated_on, counts,"
            " coalesce(to_jsonb(m) ->> 'shape', 'national') AS shape FROM bench.meta m LIMIT 1"
        )
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    if row is None or row["scale"] != scale or row["generated_on"] != date.today():
        return None
    if row["shape"] != shape:
        return None
    counts: dict[str, int] = json.loads(row["counts"])
    return counts


REFRESH_HOLDS_SQL = """
WITH renewed AS (
    UPDATE slots SET hold_expires_at = now() + interval '1 hour'
    WHERE status = 'held' AND hold_expires_at BETWEEN now() AND now() + interval '20 min'
    RETURNING id
)
UPDATE bookings b SET expires_at = now() + interval '1 hour'
FROM renewed WHERE b.slot_id = renewed.id AND b.status = 'held'
"""


async def refresh_holds(url: str) -> None:
    """Push back the expiry of the generated holds that are still live, so that the service's
    expiry sweeper does not release thousands of them in the middle of the measurements."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(REFRESH_HOLDS_SQL)
    finally:
        await conn.close()


@dataclass(frozen=True)
class BenchKeys:
    practice_software: str
    regulators: dict[str, str]  # département code → key


async def rotate_keys(url: str) -> BenchKeys:
    """Give every bench client a fresh key (only hashes are stored, so keys cannot be reused)."""
    conn = await asyncpg.connect(url)
    try:
        names = [
            r["name"]
            for r in await conn.fetch(
                "SELECT name FROM api_clients WHERE name LIKE 'bench %' ORDER BY name"
            )
        ]
        keys = {name: new_api_key() for name in names}
        await conn.executemany(
            "UPDATE api_clients SET key_prefix = $2, key_hash = $3 WHERE name = $1",
            [(name, prefix, key_hash) for name, (_, prefix, key_hash) in keys.items()],
        )
    finally:
        await conn.close()
    return BenchKeys(
        practice_software=keys[PRACTICE_SOFTWARE][0],
        regulators={
            name.removeprefix(REGULATOR): key
            for name, (key, _, _) in keys.items()
            if name.startswith(REGULATOR)
        },
    )


async def _script(conn: asyncpg.Connection, sql: str, **values: int | str) -> None:
    """Run `sql` with each `@name` replaced by the literal of `values[name]` (our constants)."""
    for name, value in sorted(values.items(), key=lambda item: -len(item[0])):
        literal = str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"
        sql = sql.replace(f"@{name}", literal)
    await conn.execute(sql)


class Log:
    """Prints each step with the time since the start."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, step: str) -> None:
        print(f"  [{time.perf_counter() - self.started:6.1f} s] {step}", flush=True)
