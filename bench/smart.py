"""`python -m bench.smart`: the national SMART Scheduling Links publication, fetched whole.

Data: `bench.generate` at `--scale` (1.0: 30,000 sites, 50,000 professionals, 2.1 million
slots over 14 days) in its own database `snp_bench_smart` (reused when it holds today's data
at that scale). Every territory publishes `PUBLIC` and `SNP` (the generated slots are SNP: the
largest publication the data allows) and has a CPTS phone (so every Location has a telecom and
every Slot a booking-phone extension). The service runs as a real `python -m app serve`
process; the client reads the manifest, then every file it lists, streamed, one after the
other (`--concurrency` > 1: that many at once), and the time is the client's, from the
manifest's request to the last file's last byte. The server's resident memory is sampled every
0.1 s (its peak beside the largest file it streamed shows whether memory stays flat).
"""

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field

import asyncpg
import httpx

from bench import generate, servers
from bench.database import bench_database_url, recreate_database, with_database
from bench.fhir import _free_port

DATABASE = "snp_bench_smart"
TARGET_SECONDS = 5.0


async def prepare(url: str, scale: float, regenerate: bool) -> dict[str, int]:
    counts = None if regenerate else await generate.existing_data(url, scale)
    if counts is None:
        print(f"generating bench data at scale {scale} (this takes minutes)", flush=True)
        await recreate_database(url)
        counts = await generate.generate(url, scale, generate.Log())
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "UPDATE territories SET smart_labels = '{PUBLIC,SNP}', phone = '+33100000000' "
            "WHERE smart_labels <> '{PUBLIC,SNP}' OR phone IS NULL"
        )
        await generate.refresh_holds(url)
    finally:
        await conn.close()
    return counts


@dataclass
class Crawl:
    seconds: float = 0.0
    manifest_ms: float = 0.0
    files: int = 0
    lines: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    largest_file_mb: float = 0.0
    slowest_file_ms: float = 0.0


async def _fetch(client: httpx.AsyncClient, item: dict[str, str], crawl: Crawl) -> None:
    began = time.perf_counter()
    size = lines = 0
    async with client.stream("GET", item["url"]) as response:
        if response.status_code != 200:
            raise SystemExit(f"{item['url']}: {response.status_code}")
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    crawl.files += 1
    crawl.bytes += size
    crawl.lines[item["type"]] = crawl.lines.get(item["type"], 0) + lines
    crawl.largest_file_mb = max(crawl.largest_file_mb, size / 2**20)
    crawl.slowest_file_ms = max(crawl.slowest_file_ms, (time.perf_counter() - began) * 1000)


async def crawl(base_url: str, concurrency: int) -> Crawl:
    result = Crawl()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        began = time.perf_counter()
        response = await client.get("/smart/$bulk-publish")
        response.raise_for_status()
        result.manifest_ms = (time.perf_counter() - began) * 1000
        output = response.json()["output"]
        gate = asyncio.Semaphore(concurrency)

        async def one(item: dict[str, str]) -> None:
            async with gate:
                await _fetch(client, item, result)

        await asyncio.gather(*(one(item) for item in output))
        result.seconds = time.perf_counter() - began
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.smart", description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=1, help="files fetched at once")
    p.add_argument("--runs", type=int, default=3, help="whole crawls (the best and the worst)")
    p.add_argument("--regenerate", action="store_true")
    args = p.parse_args(argv)
    url = with_database(bench_database_url(), DATABASE)
    counts = asyncio.run(prepare(url, args.scale, args.regenerate))
    print(f"data: {counts}", flush=True)
    service = servers.start_service(url, _free_port(), args.workers, 4, 2)
    try:
        idle_mb = max(w.memory_info().rss for w in service.workers()) / 2**20
        runs: list[Crawl] = []
        with servers.MemoryWatch(service, interval=0.1) as memory:
            for _ in range(args.runs):
                runs.append(asyncio.run(crawl(service.base_url, args.concurrency)))
        peak_mb = max(memory.peak_mb.values())
    finally:
        service.stop()
    best = min(runs, key=lambda r: r.seconds)
    worst = max(r.seconds for r in runs)
    print(
        f"SMART $bulk-publish, scale {args.scale}, {args.workers} worker, {args.concurrency} "
        f"file(s) at once: manifest + {best.files} files ({best.lines}, "
        f"{best.bytes / 2**20:.1f} MiB) in {best.seconds:.2f} s best, {worst:.2f} s worst of "
        f"{len(runs)} (manifest {best.manifest_ms:.0f} ms, slowest file "
        f"{best.slowest_file_ms:.0f} ms, largest file {best.largest_file_mb:.1f} MiB); server "
        f"memory {idle_mb:.0f} MiB idle, {peak_mb:.0f} MiB peak; target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if worst < TARGET_SECONDS else 'NOT met'}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
