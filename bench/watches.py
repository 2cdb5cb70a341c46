"""Watch bench: the notification latency of watches (issue 17), from commit to event, under a
load of open watches.

    python -m bench.watches [--watches 200] [--pushes 100] [--rate 5]

The service runs as in production (`python -m app serve --workers 2`: two app processes, each
with its watch hub) against a scratch database `snp_bench_watches` (dropped and re-created each
run; the ingest bench's territory of 50 sites). `--watches` watches of one regulator
(WATCH_MAX_OPEN_PER_REGULATOR raised to fit) are created and their streams opened, spread over
both processes by the kernel; watch i searches around site i mod 50 within a two-hour window of
the next 72 h (i mod 36), so a slot opens near a few watches, not all. Then `--pushes` slots are
pushed one at a time (`PUT /v1/slots`, one item, at `--rate` a second), each at a site and in a
window some watches cover (`--windows 1`: every watch covers every push, the worst case:
each push runs the search of every watch near it); the latency of a push is the first `slot`
event naming its slot on any stream minus the moment its PUT was answered (so committed), on
the same machine clock; the latency to every stream told of it is printed beside.
Target: p99 <= 200 ms (the issue asks for an event "the moment" a slot opens; the tests bound
it at 1 s on a loaded CI machine).
"""

import argparse
import asyncio
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from statistics import median, quantiles
from typing import Any

import asyncpg
import httpx
import orjson

from app.core.security import hash_api_key
from bench import ingest, servers
from bench.database import bench_database_url
from tests.sse_client import EventStream

DATABASE = "snp_bench_watches"
P99_TARGET_S = 0.2
WINDOWS = 36  # two-hour windows over the 72 h a search looks ahead


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def prepare() -> tuple[ingest.World, str, list[tuple[uuid.UUID, float, float]]]:
    """The ingest world, a regulator of its territory, and the sites with their coordinates."""
    world = await ingest.prepare(bench_database_url(), 100, DATABASE)
    key = f"snp_bench_{uuid.uuid4().hex}"
    conn = await asyncpg.connect(world.url)
    try:
        async with conn.transaction():
            regulator = await conn.fetchval(
                "INSERT INTO api_clients (name, role, key_prefix, key_hash) "
                "VALUES ('bench regulator', 'regulator', $1, $2) RETURNING id",
                key[:16],
                hash_api_key(key),
            )
            await conn.execute(
                "INSERT INTO api_client_territories (client_id, territory_id) "
                "SELECT $1, id FROM territories",
                regulator,
            )
        sites = [
            (r["id"], r["lat"], r["lon"])
            for r in await conn.fetch("SELECT id, lat, lon FROM sites ORDER BY lat")
        ]
    finally:
        await conn.close()
    return world, key, sites


def _window(i: int, base: datetime, windows: int) -> tuple[datetime, datetime]:
    start = base + timedelta(hours=2 * (i % windows))
    return start, start + timedelta(hours=2)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    world, key, sites = await prepare()
    auth = {"Authorization": f"Bearer {key}"}
    practice = {"Authorization": f"Bearer {world.key}"}
    os.environ["WATCH_MAX_OPEN_PER_REGULATOR"] = str(args.watches)
    service = servers.start_service(world.url, _free_port(), 2, 10, 5)
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    limits = httpx.Limits(max_connections=args.watches + 20, max_keepalive_connections=20)
    arrivals: dict[str, float] = {}
    heard: dict[str, int] = {}
    every: list[tuple[str, float]] = []  # (slot, arrival) of each stream told
    try:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=120, limits=limits) as http:
            watches = []
            for i in range(args.watches):
                _, lat, lon = sites[i % len(sites)]
                start, end = _window(i, base, args.windows)
                body = {
                    "location": {"lat": lat, "lon": lon},
                    "window": {"start": start.isoformat(), "end": end.isoformat()},
                    "limit": 10,
                    "lifetime_seconds": 7200,
                }
                answer = await http.post("/v1/watches", json=body, headers=auth)
                if answer.status_code != 201:
                    raise SystemExit(f"POST /v1/watches: {answer.status_code} {answer.text[:300]}")
                watches.append(answer.json())
            streams = [EventStream(http, w["events_url"], auth) for w in watches]
            for stream in streams:
                await stream.__aenter__()
            # Every stream served (its first heartbeat is 15 s away: wait for the hubs instead).
            await asyncio.sleep(2)

            async def listen(stream: EventStream) -> None:
                while True:
                    event = await stream.next(3600)
                    if event is None:
                        return
                    if event.event == "slot":
                        slot = event.json()["candidate"]["slot_id"]
                        arrivals.setdefault(slot, time.monotonic())
                        every.append((slot, time.monotonic()))
                        heard[slot] = heard.get(slot, 0) + 1

            listeners = [asyncio.create_task(listen(s)) for s in streams]
            answered: dict[str, float] = {}
            pros = world.professionals
            for n in range(args.pushes):
                _, rpps, site = pros[n % len(pros)]
                start = _window(n, base, args.windows)[0] + timedelta(minutes=20 * (n % 5))
                item = {
                    "external_id": f"watch-bench-{n}",
                    "professional_rpps": rpps,
                    "site_id": str(site),
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=20)).isoformat(),
                    "modality": "AMB",
                    "labels": ["SNP"],
                }
                began = time.monotonic()
                pushed = await http.put("/v1/slots", json={"slots": [item]}, headers=practice)
                answered_at = time.monotonic()
                if pushed.status_code != 200:
                    raise SystemExit(f"PUT /v1/slots: {pushed.status_code} {pushed.text[:300]}")
                answered[pushed.json()["results"][0]["id"]] = answered_at
                await asyncio.sleep(max(0.0, 1 / args.rate - (time.monotonic() - began)))
            await asyncio.sleep(3)
            for task in listeners:
                task.cancel()
            for stream in streams:
                await stream.__aexit__()
    finally:
        service.stop()
    latencies = sorted(arrivals[s] - t for s, t in answered.items() if s in arrivals)
    if len(latencies) < 2:
        raise SystemExit(f"only {len(latencies)} of {len(answered)} pushes reached a stream")
    cuts = quantiles(latencies, n=100, method="inclusive")
    told = sorted(at - answered[s] for s, at in every if s in answered)
    told_cuts = quantiles(told, n=100, method="inclusive")
    return {
        "watches": args.watches,
        "windows": args.windows,
        "pushes": len(answered),
        "pushes_heard": len(latencies),
        "streams_per_event_median": median(heard.values()),
        "latency_p50_s": round(cuts[49], 4),
        "latency_p90_s": round(cuts[89], 4),
        "latency_p99_s": round(cuts[98], 4),
        "latency_max_s": round(latencies[-1], 4),
        "every_stream_p50_s": round(told_cuts[49], 4),
        "every_stream_p99_s": round(told_cuts[98], 4),
        "p99_target_s": P99_TARGET_S,
        "met": cuts[98] <= P99_TARGET_S,
        "app_processes": 2,
    }


def print_figures(figures: dict[str, Any]) -> None:
    print()
    print(f"{'watches':<48}{'value':>10}{'target':>10}  verdict")
    print(f"{'open watches (streams)':<48}{figures['watches']:>10}")
    print(f"{'pushes heard / pushed':<48}{figures['pushes_heard']:>5} / {figures['pushes']:<3}")
    print(f"{'streams told of each slot (median)':<48}{figures['streams_per_event_median']:>10}")
    for p in ("p50", "p90", "p99", "max"):
        target = "<= 0.2 s" if p == "p99" else ""
        verdict = ("met" if figures["met"] else "NOT met") if p == "p99" else ""
        print(
            f"{f'latency commit -> event, {p} (s)':<48}{figures[f'latency_{p}_s']:>10}"
            f"{target:>10}  {verdict}"
        )
    for p in ("p50", "p99"):
        print(
            f"{f'latency commit -> every stream told, {p} (s)':<48}"
            f"{figures[f'every_stream_{p}_s']:>10}"
        )
    print(orjson.dumps(figures).decode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.watches", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--watches", type=int, default=200)
    parser.add_argument("--pushes", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="pushes per second")
    parser.add_argument(
        "--windows",
        type=int,
        default=WINDOWS,
        choices=range(1, WINDOWS + 1),
        metavar=f"1..{WINDOWS}",
        help="distinct two-hour windows of the watches (1: every watch near every push)",
    )
    print_figures(asyncio.run(run(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
