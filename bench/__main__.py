"""`python -m bench` (`make bench`): generate national-scale data, measure, print the table.

Steps: (1) the bench database `snp_bench` is generated, or reused when it already holds today's
data at the same scale; (2) the hello baseline and the service run as real uvicorn processes and
wrk drives them at 1, 8 and 32 connections, round after round (interleaved), beside the raw SQL
floor and the ingest bench; (3) the medians, ratios and targets are printed and written to
bench/results/latest.json. An endpoint that does not exist yet is reported as not available.
Then the webhook bench (bench/webhooks.py: its own scratch database, two app processes and a
receiver); `python -m bench webhooks [options]` runs that step alone.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from app.cli import recommended_pool
from bench import baselines, generate, indicators, report, servers, webhooks, workload
from bench.database import bench_database_url, recreate_database
from bench.ingest_hook import run_ingest
from bench.load import ensure_wrk, run_wrk, write_bodies

SCENARIO_PATHS = {"search": "/v1/searches", "dispatch": "/v1/dispatch", "ingest": "/v1/slots"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cpus = os.cpu_count() or 2
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="1.0 = 30,000 sites, 2.1 M slots (large-territory: 2,000 sites, 200,000 slots)",
    )
    p.add_argument(
        "--shape",
        choices=generate.SHAPES,
        default="national",
        help="the data: the national spread, or one large territory (its own database)",
    )
    p.add_argument("--runs", type=int, default=3, help="interleaved rounds (median of them)")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each wrk run")
    p.add_argument("--connections", default="1,8,32")
    p.add_argument("--workers", type=int, default=cpus, help="uvicorn workers of the service")
    p.add_argument("--pool-size", type=int, default=None, help="DB pool per worker")
    p.add_argument("--max-overflow", type=int, default=None)
    p.add_argument("--patients", type=int, default=400, help="distinct patient locations")
    p.add_argument("--regenerate", action="store_true", help="rebuild the data even if fresh")
    p.add_argument("--port", type=int, default=8731, help="service port (hello: port + 1)")
    p.add_argument(
        "--no-indicators",
        action="store_true",
        help="skip the indicators step (bench/indicators.py: a year of facts, its own database)",
    )
    return p.parse_args(argv)


async def prepare_data(
    url: str, scale: float, regenerate: bool, shape: str = "national"
) -> dict[str, int]:
    counts = None if regenerate else await generate.existing_data(url, scale, shape)
    if counts is not None:
        print(f"reusing today's bench data: {counts}", flush=True)
        return counts
    print(
        f"generating bench data, {shape} shape at scale {scale} (set-based SQL, constraints on)",
        flush=True,
    )
    log = generate.Log()
    await recreate_database(url)
    log("database created and migrated")
    counts = await generate.generate(url, scale, log, shape)
    print(f"generated: {counts}", flush=True)
    return counts


def available_paths(base_url: str) -> set[str]:
    """The API paths the running service serves (from its OpenAPI document)."""
    document = httpx.get(base_url + "/openapi.json", timeout=30).json()
    return set(document.get("paths", {}))


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["webhooks"]:  # that step alone
        return webhooks.main(given[1:])
    args = parse_args(argv)
    started = time.perf_counter()
    connections = [int(c) for c in args.connections.split(",")]
    top = max(connections)
    ensure_wrk()
    pool_size, max_overflow = recommended_pool(args.workers)
    pool_size = args.pool_size or pool_size
    max_overflow = args.max_overflow if args.max_overflow is not None else max_overflow

    url = bench_database_url(args.shape)
    counts = asyncio.run(prepare_data(url, args.scale, args.regenerate, args.shape))
    keys = asyncio.run(generate.rotate_keys(url))
    asyncio.run(generate.refresh_holds(url))
    patients = asyncio.run(workload.sample_patients(url, args.patients))
    collected = report.Collected()

    work = Path(tempfile.mkdtemp(prefix="snp-bench-"))
    searches = workload.search_requests(patients, keys)
    search_file = write_bodies(work / "search.tsv", searches)
    empty_file = write_bodies(work / "empty.tsv", workload.empty_window_requests(patients, keys))
    dispatch_file = write_bodies(work / "dispatch.tsv", workload.dispatch_requests(patients, keys))
    site_keys_file = work / "site-keys.tsv"
    site_keys_file.write_text(
        "".join(f"{site}\t{key}\n" for site, key in asyncio.run(workload.site_keys(url, keys)))
    )

    floor = asyncio.run(baselines.capture_search_statements(url, searches[:200]))
    if floor is None:
        floor = baselines.reference_statements(
            [(p.lat, p.lon, p.territory_ids) for p in patients[:200]]
        )
    collected.floor_source = floor.source
    plans = [("search", floor)]
    empty_floor = asyncio.run(
        baselines.capture_search_statements(url, workload.empty_window_requests(patients, keys)[:5])
    )
    if empty_floor is not None:
        plans.append(("empty-window search", empty_floor))
    report.RESULTS.mkdir(exist_ok=True)
    # Another shape's results beside the national ones, never over them.
    suffix = "" if args.shape == "national" else f"-{args.shape}"
    plan_file = report.RESULTS / f"search-plans{suffix}.txt"
    plan_file.write_text(
        "".join(
            f"== {name} ({f.source} statement), first patient ==\n"
            f"{asyncio.run(baselines.explain(url, f))}\n\n"
            for name, f in plans
        )
    )
    print(f"query plans written to {plan_file}", flush=True)

    waited = None
    service = servers.start_service(url, args.port, args.workers, pool_size, max_overflow)
    hello = servers.start_hello(args.port + 1, args.workers)
    try:
        waited = servers.wait_index_loaded(service, args.workers)
        print(f"search index loaded in every worker after {waited:.1f} s", flush=True)
        paths = available_paths(service.base_url)
        for scenario, path in SCENARIO_PATHS.items():
            if path not in paths:
                collected.unavailable[scenario] = f"the service has no {path} yet"
        files = (search_file, empty_file, dispatch_file, site_keys_file)
        plan = _plan(service, hello, connections, collected, *files)
        for _, run in plan:  # warm-up: caches, prepared statements, connections
            run(1.0, warm=True)
        for round_number in range(1, args.runs + 1):
            print(f"round {round_number}/{args.runs}", flush=True)
            for name, run in plan:
                print(f"  {name}", flush=True)
                run(args.seconds, warm=False)
            collected.floor.append(asyncio.run(baselines.run_database_floor(url, floor)))
    finally:
        service.stop()
        hello.stop()
    if "ingest" not in collected.unavailable:
        print("ingest (bench/ingest.py: its own scratch database and service)", flush=True)
        collected.ingest = run_ingest(
            {
                "args": argparse.Namespace(
                    rounds=args.runs, batches=4, professionals=500, json=None
                ),
                "database_url": url,
                "runs": args.runs,
                "scale": args.scale,
            }
        )
        if "unavailable" in collected.ingest:
            collected.unavailable["ingest"] = collected.ingest["unavailable"]

    print(
        "webhooks (bench/webhooks.py: its own scratch database, service and receiver)", flush=True
    )
    try:
        webhook_figures = asyncio.run(
            webhooks.run(webhooks.main_args(["--rounds", str(args.runs)]))
        )
    except (Exception, SystemExit) as exc:  # reported, never fatal to the rest of the table
        webhook_figures = {"unavailable": f"bench.webhooks failed: {exc!r}"}

    settings: dict[str, Any] = {
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "scale": args.scale,
        "shape": args.shape,
        "data": counts,
        "runs": args.runs,
        "seconds_per_run": args.seconds,
        "connections": connections,
        "workers": args.workers,
        "db_pool_size": pool_size,
        "db_max_overflow": max_overflow,
        "patients": len(patients),
        "index_loaded_after_s": None if waited is None else round(waited, 1),
        "wall_clock_s": round(time.perf_counter() - started, 1),
    }
    table, document = report.render(collected, settings, top)
    document["webhooks"] = webhook_figures
    if not args.no_indicators:
        print("indicators (bench/indicators.py: its own database, a year of facts)", flush=True)
        document["indicators"] = indicators.measure_year(args.scale)
    print(table)
    if "unavailable" in webhook_figures:
        print(f"  webhooks: {report.NOT_AVAILABLE} ({webhook_figures['unavailable']})")
    else:
        webhooks.print_figures(webhook_figures)
    written = report.write(document, f"latest{suffix}.json")
    print(f"\nwritten to {written} in {settings['wall_clock_s']} s")
    return 0


def _plan(
    service: servers.Server,
    hello: servers.Server,
    connections: list[int],
    collected: report.Collected,
    search_file: Path,
    empty_file: Path,
    dispatch_file: Path,
    site_keys_file: Path,
) -> list[tuple[str, Any]]:
    """The runs of one round, in order: (label, run(seconds, warm))."""

    def load(
        scenario: str, server: servers.Server, path: str, n: int, script: str, extra: list[str]
    ) -> Any:
        def run(seconds: float, warm: bool) -> None:
            if warm:
                run_wrk(server.base_url + path, script, n, seconds, extra)
                return
            if server is service:
                with servers.MemoryWatch(service) as watch:
                    result = run_wrk(server.base_url + path, script, n, seconds, extra)
                for pid, mb in watch.peak_mb.items():
                    collected.rss_peak_mb[pid] = max(collected.rss_peak_mb.get(pid, 0.0), mb)
            else:
                result = run_wrk(server.base_url + path, script, n, seconds, extra)
            collected.add(scenario, result)

        return run

    plan: list[tuple[str, Any]] = []
    for n in connections:
        plan.append((f"hello x{n}", load("hello", hello, "/hello", n, "get.lua", [])))
        if "search" not in collected.unavailable:
            plan.append(
                (
                    f"search x{n}",
                    load(
                        "search",
                        service,
                        "/v1/searches",
                        n,
                        "post.lua",
                        [str(search_file), "/v1/searches"],
                    ),
                )
            )
    if "search" not in collected.unavailable:
        plan.append(
            (
                "empty window x1",
                load(
                    "empty_window",
                    service,
                    "/v1/searches",
                    1,
                    "post.lua",
                    [str(empty_file), "/v1/searches"],
                ),
            )
        )
    if "dispatch" not in collected.unavailable:
        for n in connections:
            plan.append(
                (
                    f"dispatch x{n}",
                    load(
                        "dispatch",
                        service,
                        "/v1/dispatch",
                        n,
                        "dispatch.lua",
                        [str(dispatch_file), str(site_keys_file)],
                    ),
                )
            )
    return plan


if __name__ == "__main__":
    raise SystemExit(main())
