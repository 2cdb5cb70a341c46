"""Webhook bench: delivery throughput to a local receiver, and the lag from commit to first attempt.

    python -m bench webhooks [--rounds 3] [--events 5000] [--lag-holds 200] [--lag-rate 20]
    python -m bench.webhooks …   (the same)

The service runs as in production (`python -m app serve --workers 2`: two app processes, each
with its delivery worker) against a scratch database `snp_bench_webhooks` (dropped and re-created
each run, on the server of BENCH_DATABASE_URL or DATABASE_URL, else the embedded PostgreSQL);
the receiver is a bare ASGI app under its own uvicorn on loopback (bench/webhook_receiver.py).

- Throughput: each round, one `PUT /v1/slots` of `--events` new slots commits as many
  `slot.created` events at once; the figure is events / (last arrival - commit), so it includes
  the first lease. Targets: >= 500 events/s.
- Lag: `--lag-holds` holds, one at a time at `--lag-rate` per second, each answered (so
  committed) before its `hold.created` may arrive; the lag is arrival - answer, on the same
  machine clock. Target: p99 <= 1 s.
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from statistics import median, quantiles
from typing import Any

import asyncpg
import httpx
import orjson

from app.core.security import hash_api_key, new_webhook_secret
from bench import ingest, servers
from bench.database import bench_database_url

DATABASE = "snp_bench_webhooks"
THROUGHPUT_TARGET = 500.0
LAG_P99_TARGET_S = 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_receiver(port: int) -> servers.Server:
    command = [sys.executable, "-m", "uvicorn", "bench.webhook_receiver:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    command += ["--no-access-log"]
    process = subprocess.Popen(command, cwd=servers.PROJECT_ROOT)
    return servers._wait_ready(  # noqa: SLF001 (the bench's own helper)
        servers.Server("receiver", process, f"http://127.0.0.1:{port}"), "/arrivals"
    )


async def prepare(receiver_url: str, professionals: int) -> tuple[ingest.World, str]:
    """The ingest bench's world (sites, professionals, a practice-software key) in a scratch
    database of its own, with the practice's webhook on the receiver and a regulator key."""
    world = await ingest.prepare(bench_database_url(), professionals, DATABASE)
    regulator_key = f"snp_bench_{uuid.uuid4().hex}"
    conn = await asyncpg.connect(world.url)
    try:
        async with conn.transaction():
            await conn.execute(
                "UPDATE api_clients SET webhook_url = $1, webhook_secret = $2 WHERE id = $3",
                receiver_url,
                new_webhook_secret(),
                world.client_id,
            )
            regulator = await conn.fetchval(
                "INSERT INTO api_clients (name, role, key_prefix, key_hash) "
                "VALUES ('bench regulator', 'regulator', $1, $2) RETURNING id",
                regulator_key[:16],
                hash_api_key(regulator_key),
            )
            await conn.execute(
                "INSERT INTO api_client_territories (client_id, territory_id) "
                "SELECT $1, id FROM territories",
                regulator,
            )
    finally:
        await conn.close()
    return world, regulator_key


async def _arrivals(receiver: httpx.AsyncClient) -> list[tuple[str, float, str | None]]:
    rows: list[list[Any]] = orjson.loads((await receiver.get("/arrivals")).content)
    return [(r[0], r[1], r[2]) for r in rows]


async def _wait_for(receiver: httpx.AsyncClient, count: int, within: float) -> list[Any]:
    deadline = time.monotonic() + within
    while True:
        arrived = await _arrivals(receiver)
        if len(arrived) >= count or time.monotonic() > deadline:
            return arrived
        await asyncio.sleep(0.05)


async def throughput_round(
    service: httpx.AsyncClient, receiver: httpx.AsyncClient, key: str, body: bytes, events: int
) -> dict[str, float]:
    await receiver.delete("/arrivals")
    response = await service.put(
        "/v1/slots",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    committed = time.time()
    if response.status_code != 200 or response.json()["counts"]["created"] != events:
        raise SystemExit(f"PUT /v1/slots: {response.status_code} {response.text[:300]}")
    arrived = await _wait_for(receiver, events, 300)
    if len(arrived) < events:
        raise SystemExit(f"only {len(arrived)} of {events} events arrived in 300 s")
    ids = [a[0] for a in arrived]
    last = max(a[1] for a in arrived)
    first = min(a[1] for a in arrived)
    return {
        "events": events,
        "events_per_s": events / (last - committed),
        "first_arrival_after_commit_s": first - committed,
        "drain_s": last - committed,
        "duplicates": len(ids) - len(set(ids)),
    }


async def lag_run(
    url: str,
    service: httpx.AsyncClient,
    receiver: httpx.AsyncClient,
    regulator_key: str,
    holds: int,
    rate: float,
) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        slots = [
            str(r["id"])
            for r in await conn.fetch(
                "SELECT id FROM slots WHERE status = 'free' ORDER BY start_at DESC LIMIT $1", holds
            )
        ]
    finally:
        await conn.close()
    await receiver.delete("/arrivals")
    answered: dict[str, float] = {}
    auth = {"Authorization": f"Bearer {regulator_key}"}
    started = time.monotonic()
    for i, slot in enumerate(slots):
        await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        response = await service.post("/v1/holds", json={"slot_id": slot}, headers=auth)
        if response.status_code != 201:
            raise SystemExit(f"POST /v1/holds: {response.status_code} {response.text[:300]}")
        answered[response.json()["id"]] = time.time()
    arrived = await _wait_for(receiver, len(slots), 60)
    lags = sorted(t - answered[h] for _, t, h in arrived if h in answered)
    if len(lags) < len(slots):
        raise SystemExit(f"only {len(lags)} of {len(slots)} hold events arrived")
    cuts = quantiles(lags, n=100, method="inclusive")
    return {
        "holds": len(lags),
        "rate_per_s": rate,
        "lag_p50_s": round(cuts[49], 4),
        "lag_p90_s": round(cuts[89], 4),
        "lag_p99_s": round(cuts[98], 4),
        "lag_max_s": round(lags[-1], 4),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver_server = start_receiver(_free_port())
    service_server = None
    try:
        world, regulator_key = await prepare(
            receiver_server.base_url + "/hooks", ingest.BATCH // ingest.SLOTS_A_DAY
        )
        bodies = [
            orjson.dumps(
                {"slots": [{k: v for k, v in it.items() if k != "_pro"} for it in b[: args.events]]}
            )
            for b in ingest.batches(world, args.rounds)
        ]
        os.environ["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "true"  # the receiver is on loopback
        port = _free_port()
        service_server = servers.start_service(world.url, port, 2, 10, 5)
        rounds = []
        async with (
            httpx.AsyncClient(base_url=service_server.base_url, timeout=120) as service,
            httpx.AsyncClient(base_url=receiver_server.base_url, timeout=60) as receiver,
        ):
            for i, body in enumerate(bodies):
                figures = await throughput_round(service, receiver, world.key, body, args.events)
                rounds.append(figures)
                print(
                    f"round {i + 1}/{len(bodies)}: {figures['events']} events in "
                    f"{figures['drain_s']:.2f} s = {figures['events_per_s']:.0f} events/s "
                    f"(first after {figures['first_arrival_after_commit_s'] * 1000:.0f} ms, "
                    f"{figures['duplicates']} duplicates)",
                    flush=True,
                )
            lag = await lag_run(
                world.url, service, receiver, regulator_key, args.lag_holds, args.lag_rate
            )
    finally:
        if service_server is not None:
            service_server.stop()
        receiver_server.stop()
    rate = median(r["events_per_s"] for r in rounds)
    return {
        "events_per_s": round(rate),
        "throughput_target": THROUGHPUT_TARGET,
        "throughput_met": rate >= THROUGHPUT_TARGET,
        **lag,
        "lag_p99_target_s": LAG_P99_TARGET_S,
        "lag_met": lag["lag_p99_s"] <= LAG_P99_TARGET_S,
        "rounds": rounds,
        "app_processes": 2,
    }


def print_figures(figures: dict[str, Any]) -> None:
    print()
    print(f"{'webhooks':<44}{'value':>10}{'target':>10}  verdict")
    print(
        f"{'delivery throughput, 2 processes (events/s)':<44}{figures['events_per_s']:>10}"
        f"{'>= 500':>10}  {'met' if figures['throughput_met'] else 'NOT met'}"
    )
    for p in ("p50", "p90", "p99", "max"):
        target = "<= 1 s" if p == "p99" else ""
        verdict = ("met" if figures["lag_met"] else "NOT met") if p == "p99" else ""
        print(
            f"{f'lag commit -> first attempt, {p} (s)':<44}{figures[f'lag_{p}_s']:>10}"
            f"{target:>10}  {verdict}"
        )
    print(orjson.dumps({k: v for k, v in figures.items() if k != "rounds"}).decode())


def main_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench webhooks", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=ingest.BATCH, help="events a round")
    parser.add_argument("--lag-holds", type=int, default=200)
    parser.add_argument("--lag-rate", type=float, default=20.0, help="holds per second")
    args = parser.parse_args(argv)
    if not 1 <= args.events <= ingest.BATCH:
        parser.error(f"--events: 1 to {ingest.BATCH}")
    return args


def main(argv: list[str] | None = None) -> int:
    print_figures(asyncio.run(run(main_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
