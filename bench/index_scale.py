"""`python -m bench.index_scale` (`make bench-index`): how the in-memory search index scales.

Issue 15 ("Performance"). Two measurements, printed as a table and written to
bench/results/index-scale.json, with a chart of the first in bench/results/index-scale.png:

(a) **CPU per search** against the sites of the regulator's territory (40, 2,000, 30,000) and the
    slots each site has in the 72 h window (1, 10, 50). The `Directory` and `FreeSlots` are built
    in memory (no database): one territory (radius 20 km, enlarged by 10 km up to 3 times, as the
    fallback radius of `search.radius`), its sites spread normally around Lyon with a spread
    that grows with their number (the national density: 18 km² a site, a quarter of the side
    of that area as the standard deviation, as bench/generate.py spreads a département's
    sites), 1-3 professionals a site (60 % SAS participants), slots on a 20-minute grid between
    08:00 and 19:00 local time (85 % AMB, 5 % HH, 10 % VR; 5 % held). Each patient is within
    ~3 km of a random site (as bench/workload.py). The real `search_index` answers, with the
    `IndexQuery` that `search.service.find_candidates` builds (`_index_query`) from the same
    helpers (`resolve_window`, `search_radius`, the default settings): all modalities, limit
    10; and the empty-window search (01:00-04:00 tomorrow, no slot there). Each search is timed
    alone (`time.perf_counter`); p50 and p99 in µs.
(b) **Memory and start-up at national scale**: `SearchIndex.load()` (what every worker runs at
    start-up) against the national bench database (bench/generate.py at scale 1.0: 30,000
    sites, 50,000 professionals, 2.1 million slots over 14 days, of which the index holds the
    open ones of the next 72 h + margin), in a fresh process: the resident set's growth
    (psutil), the peak resident set, `loaded_in`; then a reload (a directory change: the old
    index answers until the new one is built, so both are alive for a moment); and, in a second
    fresh process, tracemalloc's retained and peak bytes around `load()`. Target: ≤ 150 MB a
    worker. The database is generated (~3-8 minutes) unless today's is there.
"""

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil  # type: ignore[import-untyped]  # no stubs in the lock file

from app.core.auth import Principal
from app.core.config import Settings
from app.schemas.search import SearchWindow
from app.services.search.index.query import IndexQuery, search_index
from app.services.search.index.store import Directory, FreeSlots, SlotRow, to_us
from app.services.search.radius import search_radius
from app.services.search.scope import territories_in
from app.services.search.service import ALL_MODALITIES, ENOUGH_CANDIDATES
from app.services.search.window import MAX_AHEAD, resolve_window
from bench.report import RESULTS

SITE_COUNTS = (40, 2_000, 30_000)
SLOTS_PER_SITE = (1, 10, 50)
KM2_PER_SITE = 18.0  # 30,000 sites over France's ~550,000 km²
CENTRE = (45.764, 4.836)  # Lyon
ZONE = "Europe/Paris"
PARIS = ZoneInfo(ZONE)
DAY_HOURS = (8, 19)  # the 20-minute grid: 08:00 to 18:40 local time
LIMIT = 10
MEMORY_TARGET_MB = 150.0


@dataclass(frozen=True)
class Timing:
    sites: int
    slots_per_site: int
    slots_held: int
    query: str  # "default" or "empty_window"
    searches: int
    p50_us: float  # time.perf_counter: what a caller waits, preemption included
    p99_us: float
    mean_us: float
    cpu_p50_us: float  # time.thread_time: this thread's CPU only (the machine is shared)
    cpu_p99_us: float
    answered_mean: float  # candidates a search returned, on average
    radius_km_mean: float


# -- (a) the synthetic territory ---------------------------------------------------------------


def spread_km(sites: int) -> float:
    """The standard deviation of the sites around the centre: bench/generate.py's rule (a
    quarter of the side of the area) on the national density."""
    return math.sqrt(sites * KM2_PER_SITE) / 4


def reference_now() -> datetime:
    """10:00 tomorrow in Paris: a regulation hour, the same grid whenever the bench runs."""
    tomorrow = datetime.now(PARIS).date() + timedelta(days=1)
    return datetime.combine(tomorrow, clock(10, 0), PARIS).astimezone(UTC)


def grid(now: datetime) -> list[datetime]:
    """The 20-minute starts after `now`, within 72 h, in daytime hours (local)."""
    first = now.astimezone(PARIS).replace(minute=0, second=0, microsecond=0)
    cells = []
    at = first
    while at < now + MAX_AHEAD:
        local = at.astimezone(PARIS)
        if at > now and DAY_HOURS[0] <= local.hour < DAY_HOURS[1]:
            cells.append(at.astimezone(UTC))
        at += timedelta(minutes=20)
    return cells


def build_world(
    sites: int, slots_per_site: int, now: datetime, rng: random.Random
) -> tuple[FreeSlots, Principal, list[tuple[float, float]]]:
    """One territory of `sites` sites, `slots_per_site` slots each in the window; its regulator;
    the sites' coordinates (the patients are drawn near them)."""
    territory_id = uuid.UUID(int=rng.getrandbits(128))
    source_id = uuid.UUID(int=rng.getrandbits(128))
    spread = spread_km(sites)
    site_rows: list[dict[str, Any]] = []
    professional_rows: list[dict[str, Any]] = []
    staff: list[list[uuid.UUID]] = []
    for n in range(sites):
        lat = CENTRE[0] + rng.gauss(0, spread) / 111.2
        lon = CENTRE[1] + rng.gauss(0, spread) / (111.2 * math.cos(math.radians(CENTRE[0])))
        site_id = uuid.UUID(int=rng.getrandbits(128))
        site_rows.append(
            {
                "id": site_id,
                "territory_id": territory_id,
                "lat": lat,
                "lon": lon,
                "timezone": ZONE,
                "active": True,
                "accessible": n % 2 == 0,
                "name": f"Maison de santé {n}",
                "address": f"{n} rue de la Santé",
                "postcode": "69001",
            }
        )
        mine = []
        for _ in range(rng.randint(1, 3)):
            professional_id = uuid.UUID(int=rng.getrandbits(128))
            seq = len(professional_rows)
            professional_rows.append(
                {
                    "id": professional_id,
                    "rpps": f"1{seq:010d}",
                    "family_name": "Martin",
                    "given_name": "Camille",
                    "specialty": "SM54",
                    "languages": ["fr"],
                    "sas_participant": rng.random() < 0.6,
                    "active": True,
                }
            )
            mine.append(professional_id)
        staff.append(mine)
    directory = Directory.build(
        [
            {
                "id": territory_id,
                "active": True,
                "departement": "69",
                "timezone": ZONE,
                "radius_km": 20.0,
                "enlargement_km": 10.0,
            }
        ],
        site_rows,
        professional_rows,
        [{"id": source_id, "active": True}],
        [],
    )
    margin = timedelta(minutes=Settings().search_index_margin_minutes)
    index = FreeSlots(directory, to_us(now + MAX_AHEAD + margin))
    cells = grid(now)
    ends = [c + timedelta(minutes=20) for c in cells]
    held_until = now + timedelta(hours=1)
    batch: list[SlotRow] = []
    for site, mine in zip(site_rows, staff, strict=True):
        pairs = rng.sample(
            range(len(mine) * len(cells)), min(slots_per_site, len(mine) * len(cells))
        )
        for pair in pairs:
            professional_id, cell = mine[pair // len(cells)], pair % len(cells)
            m = rng.random()
            held = rng.random() < 0.05
            batch.append(
                SlotRow(
                    uuid.UUID(int=rng.getrandbits(128)),
                    site["id"],
                    professional_id,
                    source_id,
                    cells[cell],
                    ends[cell],
                    "AMB" if m < 0.85 else "HH" if m < 0.90 else "VR",
                    "held" if held else "free",
                    held_until if held else None,
                )
            )
        if len(batch) >= 50_000:  # the loader's own path, a chunk at a time (memory)
            index.load(batch)
            batch = []
    index.load(batch)
    principal = Principal(uuid.uuid4(), "bench regulator", "regulator", frozenset({territory_id}))
    return index, principal, [(s["lat"], s["lon"]) for s in site_rows]


def index_query(
    index: FreeSlots,
    principal: Principal,
    lat: float,
    lon: float,
    now: datetime,
    window: SearchWindow | None,
    settings: Settings,
) -> IndexQuery:
    """The `IndexQuery` of a search of all modalities, limit 10, no road times: the parameters
    `search.service.find_candidates` computes, read as `_index_query` reads them."""
    territories = territories_in(index.directory.territories, principal)
    resolved = resolve_window(window, now, sorted({t.timezone for t in territories}))
    radius = search_radius(territories)
    modalities = ALL_MODALITIES
    fetch = LIMIT  # no OSRM: the limit itself
    steps = [radius.base_km] if modalities == ["VR"] else radius.steps()
    return IndexQuery(
        lat=lat,
        lon=lon,
        now=now,
        window_start=resolved.start,
        window_end=resolved.end,
        explicit_end=resolved.explicit,
        modalities=tuple(modalities),
        territory_ids=tuple(t.id for t in territories),
        accessible=False,
        specialty=None,
        languages=None,
        mt_rpps=None,
        metres_per_minute=settings.search_travel_speed_kmh * 1000 / 60,
        margin_seconds=settings.search_travel_margin_minutes * 60,
        site_cap=settings.search_site_cap,
        per_site=min(settings.search_slots_per_site, fetch),
        row_cap=max(3 * fetch, 30),
        limit=fetch,
        radii_m=tuple(r * 1000 for r in steps),
        enough=min(ENOUGH_CANDIDATES, LIMIT),
    )


def patients(sites: list[tuple[float, float]], count: int, rng: random.Random) -> list[Any]:
    """`count` points within ~3 km of a random site (bench/workload.py's rule)."""
    out = []
    for _ in range(count):
        lat, lon = rng.choice(sites)
        out.append(
            (
                round(lat + rng.uniform(-0.027, 0.027), 5),
                round(lon + rng.uniform(-0.04, 0.04), 5),
            )
        )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def time_searches(
    index: FreeSlots, queries: list[IndexQuery]
) -> tuple[list[float], list[float], list[Any]]:
    """Each search timed alone (µs, elapsed and CPU), after a warm-up; the answers."""
    for q in queries[:20]:
        search_index(index, q)
    gc.collect()
    times, cpu, answers = [], [], []
    for q in queries:
        began, began_cpu = time.perf_counter(), time.thread_time()
        answer = search_index(index, q)
        times.append((time.perf_counter() - began) * 1e6)
        cpu.append((time.thread_time() - began_cpu) * 1e6)
        answers.append(answer)
    return times, cpu, answers


def measure_cpu(count: int, seed: int) -> list[Timing]:
    settings = Settings()
    now = reference_now()
    tomorrow = (now.astimezone(PARIS) + timedelta(days=1)).date()
    empty = SearchWindow(
        start=datetime.combine(tomorrow, clock(1, 0), PARIS),
        end=datetime.combine(tomorrow, clock(4, 0), PARIS),
    )
    out = []
    for sites in SITE_COUNTS:
        for per_site in SLOTS_PER_SITE:
            rng = random.Random(seed * 1_000_003 + sites * 101 + per_site)
            began = time.perf_counter()
            index, principal, coordinates = build_world(sites, per_site, now, rng)
            built = time.perf_counter() - began
            points = patients(coordinates, count, rng)
            for name, window in (("default", None), ("empty_window", empty)):
                queries = [
                    index_query(index, principal, lat, lon, now, window, settings)
                    for lat, lon in points
                ]
                times, cpu, answers = time_searches(index, queries)
                timing = Timing(
                    sites=sites,
                    slots_per_site=per_site,
                    slots_held=len(index),
                    query=name,
                    searches=len(times),
                    p50_us=round(statistics.median(times), 1),
                    p99_us=round(percentile(times, 0.99), 1),
                    mean_us=round(statistics.fmean(times), 1),
                    cpu_p50_us=round(statistics.median(cpu), 1),
                    cpu_p99_us=round(percentile(cpu, 0.99), 1),
                    answered_mean=round(statistics.fmean(len(rows) for rows, _ in answers), 2),
                    radius_km_mean=round(statistics.fmean(r for _, r in answers) / 1000, 1),
                )
                out.append(timing)
                print(
                    f"  {sites:>6} sites x {per_site:>2} slots ({len(index):>9,} held,"
                    f" built in {built:4.1f} s) {name:<12} p50 {timing.p50_us:>8.1f} µs"
                    f"  p99 {timing.p99_us:>8.1f} µs  (CPU p50 {timing.cpu_p50_us:>8.1f} µs)"
                    f"  {timing.answered_mean:>4.1f} answers",
                    flush=True,
                )
            del index, principal, coordinates
            gc.collect()
    return out


# -- (b) national scale ------------------------------------------------------------------------


def _mb(n: float) -> float:
    return round(n / 2**20, 1)


def _peak_rss() -> int:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def _load_probe(url: str, trace: bool) -> dict[str, Any]:
    """In this (fresh) process: the index's start-up load, then a reload; what each cost."""
    from app.services.search.index.feed import read_snapshot
    from app.services.search.index.live import SearchIndex

    process = psutil.Process()
    index = SearchIndex(url, Settings())
    await index._connect()  # the connection is not the index's memory
    gc.collect()
    rss_before = process.memory_info().rss
    if trace:
        tracemalloc.start()
    await index.load()
    gc.collect()
    assert index.slots is not None
    slots = index.slots
    out: dict[str, Any] = {
        "slots": len(slots),
        "sites": len(slots.directory.sites),
        "professionals": len(slots.directory.professionals),
        "territories": len(slots.directory.territories),
        "loaded_in_s": round(index.loaded_in or 0.0, 2),
    }
    if trace:  # (its load is slowed by the tracing: not the load time reported)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out = {
            "tracemalloc_retained_mb": _mb(current),
            "tracemalloc_peak_mb": _mb(peak),
            "traced_loaded_in_s": out["loaded_in_s"],
        }
    else:
        rss_after = process.memory_info().rss
        out.update(
            rss_before_mb=_mb(rss_before),
            rss_after_mb=_mb(rss_after),
            rss_delta_mb=_mb(rss_after - rss_before),
            rss_peak_delta_mb=_mb(_peak_rss() - rss_before),
        )
        await index.load()  # a reload: the old index is dropped only once the new one is built
        gc.collect()
        rss_reloaded = process.memory_info().rss
        out.update(
            reloaded_in_s=round(index.loaded_in or 0.0, 2),
            rss_after_reload_delta_mb=_mb(rss_reloaded - rss_before),
            rss_peak_reload_delta_mb=_mb(_peak_rss() - rss_before),
        )
        # Where a load's time goes: the snapshot's read (asyncpg, rows to `SlotRow`s), then
        # the index's build from them (`FreeSlots.load`), as `SearchIndex.load` does them.
        now = datetime.now(UTC)
        until = now + MAX_AHEAD + timedelta(minutes=Settings().search_index_margin_minutes)
        began = time.perf_counter()
        snapshot = await read_snapshot(await index._connect(), now, until)
        read = time.perf_counter() - began
        began = time.perf_counter()
        FreeSlots(snapshot.directory, to_us(until)).load(snapshot.slots)
        out.update(
            split_read_snapshot_s=round(read, 2),
            split_build_s=round(time.perf_counter() - began, 2),
        )
    await index.close()
    return out


def measure_memory(url: str) -> dict[str, Any]:
    """Each probe in its own fresh process, so nothing else of this bench is in its RSS."""
    result: dict[str, Any] = {}
    for trace in (False, True):
        command = [sys.executable, "-m", "bench.index_scale", "--probe", url]
        if trace:
            command.append("--trace")
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise SystemExit(f"the load probe failed:\n{done.stderr}")
        result.update(json.loads(done.stdout.strip().splitlines()[-1]))
    result["target_mb"] = MEMORY_TARGET_MB
    # What a worker keeps (the steady growth); the peaks are the moments of a (re)load.
    result["meets_target"] = result["rss_after_reload_delta_mb"] <= MEMORY_TARGET_MB
    result["peaks_within_target"] = result["rss_peak_reload_delta_mb"] <= MEMORY_TARGET_MB
    return result


def national_url(scale: float) -> tuple[str, dict[str, int]]:
    from bench.__main__ import prepare_data
    from bench.database import bench_database_url

    url = bench_database_url()
    counts = asyncio.run(prepare_data(url, scale, regenerate=False))
    return url, counts


# -- (c) report --------------------------------------------------------------------------------


def chart(timings: list[Timing], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    titles = {
        "default": "default search (all modalities, limit 10)",
        "empty_window": "empty window (01:00-04:00)",
    }
    for ax, query in zip(axes, ("default", "empty_window"), strict=True):
        for per_site, colour in zip(
            SLOTS_PER_SITE, ("tab:blue", "tab:orange", "tab:green"), strict=True
        ):
            rows = [t for t in timings if t.query == query and t.slots_per_site == per_site]
            xs = [t.sites for t in rows]
            ax.plot(
                xs,
                [t.p50_us for t in rows],
                "o-",
                color=colour,
                label=f"{per_site} slots/site, p50",
            )
            ax.plot(
                xs,
                [t.p99_us for t in rows],
                "s--",
                color=colour,
                alpha=0.6,
                label=f"{per_site} slots/site, p99",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(SITE_COUNTS, [f"{n:,}" for n in SITE_COUNTS])
        ax.set_xlabel("sites in the territory")
        ax.set_title(titles[query], fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("µs per search_index call (perf_counter)")
    axes[1].legend(fontsize=8, loc="upper left")
    fig.suptitle(
        "In-memory search index: cost per search (issue 15, bench/index_scale.py)", fontsize=11
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(timings: list[Timing], memory: dict[str, Any] | None) -> str:
    lines = [
        "search_index CPU per search (µs), one territory",
        "| sites | slots/site | slots held | default p50 | default p99 | default CPU p50"
        " | empty p50 | empty p99 | empty CPU p50 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for sites in SITE_COUNTS:
        for per_site in SLOTS_PER_SITE:
            by = {t.query: t for t in timings if t.sites == sites and t.slots_per_site == per_site}
            d, e = by["default"], by["empty_window"]
            lines.append(
                f"| {sites:,} | {per_site} | {d.slots_held:,} | {d.p50_us:,.0f} | {d.p99_us:,.0f}"
                f" | {d.cpu_p50_us:,.0f} | {e.p50_us:,.0f} | {e.p99_us:,.0f}"
                f" | {e.cpu_p50_us:,.0f} |"
            )
    if memory is not None:
        lines += [
            "",
            f"national index: {memory['slots']:,} slots, {memory['sites']:,} sites,"
            f" {memory['professionals']:,} professionals",
            f"  load (start-up): {memory['loaded_in_s']} s; reload: {memory['reloaded_in_s']} s"
            f" (of a load: snapshot read {memory['split_read_snapshot_s']} s,"
            f" index build {memory['split_build_s']} s)",
            f"  RSS growth after load: {memory['rss_delta_mb']} MB"
            f" (peak during load {memory['rss_peak_delta_mb']} MB);"
            f" after a reload {memory['rss_after_reload_delta_mb']} MB"
            f" (peak {memory['rss_peak_reload_delta_mb']} MB)",
            f"  tracemalloc: retained {memory['tracemalloc_retained_mb']} MB,"
            f" peak {memory['tracemalloc_peak_mb']} MB",
            f"  target <= {memory['target_mb']:.0f} MB a worker (RSS kept):"
            f" {'met' if memory['meets_target'] else 'MISSED'}; peaks"
            f" {'within' if memory['peaks_within_target'] else 'beyond'} it",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.index_scale", description=__doc__)
    p.add_argument("--patients", type=int, default=300, help="searches per cell")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--scale", type=float, default=1.0, help="of the national data for (b)")
    p.add_argument("--no-memory", action="store_true", help="skip (b), the national load")
    p.add_argument("--probe", metavar="URL", help=argparse.SUPPRESS)  # (b)'s fresh process
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe:
        print(json.dumps(asyncio.run(_load_probe(args.probe, args.trace))))
        return 0

    started = time.perf_counter()
    load_at_start = list(os.getloadavg())
    memory = None
    counts = None
    if not args.no_memory:
        url, counts = national_url(args.scale)
        print("(b) the national index's load, in fresh processes", flush=True)
        memory = measure_memory(url)
        memory["data"] = counts
    print(f"(a) search_index CPU, {args.patients} patients a cell", flush=True)
    timings = measure_cpu(args.patients, args.seed)

    RESULTS.mkdir(exist_ok=True)
    png = RESULTS / "index-scale.png"
    chart(timings, png)
    document = {
        "command": "python -m bench.index_scale "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": date.today().isoformat(),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        },
        "synthetic": {
            "now": reference_now().isoformat(),
            "km2_per_site": KM2_PER_SITE,
            "spread_km": {str(n): round(spread_km(n), 1) for n in SITE_COUNTS},
            "radius_km": "20, then +10 km up to 3 times",
            "limit": LIMIT,
        },
        "load_average": {"start": load_at_start, "end": list(os.getloadavg())},
        "cpu": [asdict(t) for t in timings],
        "memory": memory,
        "wall_clock_s": round(time.perf_counter() - started, 1),
    }
    json_path = RESULTS / "index-scale.json"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    print(table(timings, memory))
    print(f"\nwritten to {json_path} and {png} in {document['wall_clock_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
