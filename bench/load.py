"""Drive Debian's `wrk` (C, event loop: not the bottleneck) with the Lua scripts in bench/lua/."""

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LUA = Path(__file__).resolve().parent / "lua"


@dataclass(frozen=True)
class LoadResult:
    """One wrk run: throughput, latency percentiles (ms), failed answers, script counters."""

    connections: int
    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    status_errors: int
    socket_errors: int
    counters: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_wrk() -> str:
    """The wrk binary; installs Debian's package when it is missing (root on this machine)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("  wrk not found: apt-get install -y wrk", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is required (Debian package `wrk`)")
    return found


def run_wrk(
    url: str, script: str, connections: int, seconds: float, args: list[str] | None = None
) -> LoadResult:
    """Run wrk for `seconds` at `connections` and parse the JSON line the script prints."""
    threads = 1 if connections == 1 else 2  # two cores: more threads only steal from the server
    command = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA / script),
        url,
    ]
    if args:
        command += ["--", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    elapsed = raw["duration_us"] / 1e6
    known = {
        "requests",
        "duration_us",
        "p50_us",
        "p90_us",
        "p99_us",
        "mean_us",
        "status_errors",
        "socket_errors",
    }
    return LoadResult(
        connections=connections,
        requests=raw["requests"],
        seconds=elapsed,
        per_second=raw["requests"] / elapsed if elapsed else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        status_errors=raw["status_errors"],
        socket_errors=raw["socket_errors"],
        counters={k: int(v) for k, v in raw.items() if k not in known},
    )


def write_bodies(path: Path, entries: list[tuple[str, dict[str, Any]]]) -> Path:
    """Write `key<TAB>json body` lines for post.lua / dispatch.lua."""
    with path.open("w", encoding="utf-8") as f:
        for key, body in entries:
            f.write(f"{key}\t{json.dumps(body, separators=(',', ':'))}\n")
    return path
