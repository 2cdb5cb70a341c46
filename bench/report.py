"""The bench's table and JSON: medians of interleaved runs, the ratios, the targets of issue 5."""

import json
import os
import platform
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs in the lock file

from bench.baselines import FloorRun
from bench.load import LoadResult

RESULTS = Path(__file__).resolve().parent / "results"
NOT_AVAILABLE = "not available"


@dataclass
class Collected:
    """Everything one `make bench` measured, run by run."""

    load: dict[str, dict[int, list[LoadResult]]] = field(default_factory=dict)
    floor: list[FloorRun] = field(default_factory=list)
    floor_source: str = ""
    rss_peak_mb: dict[int, float] = field(default_factory=dict)
    ingest: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def add(self, scenario: str, result: LoadResult) -> None:
        self.load.setdefault(scenario, {}).setdefault(result.connections, []).append(result)

    def runs(self, scenario: str, connections: int) -> list[LoadResult]:
        return self.load.get(scenario, {}).get(connections, [])


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    direction: str  # ">=" or "<="
    goal: float


TARGETS = (
    Target("search_over_hello", "search throughput / hello throughput (top conns)", ">=", 0.3),
    Target("search_p99_ms_8", "search p99 at 8 connections (ms)", "<=", 15),
    Target("search_p50_over_sql_p50", "search p50 (1 conn) / raw SQL p50", "<=", 3),
    Target("dispatch_per_s_32", "dispatch throughput at top connections (/s)", ">=", 800),
    Target("ingest_slots_per_s", "ingest, outbox events included (slots/s)", ">=", 15_000),
    Target("empty_window_p50_ms", "empty-window search p50, 1 connection (ms)", "<=", 2),
    Target("rss_mb_per_worker", "service memory under load (MB per worker, peak)", "<=", 300),
)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _paired(a: list[LoadResult], b: list[LoadResult]) -> list[tuple[LoadResult, LoadResult]]:
    """Runs of two scenarios from the same rounds (interleaved), paired in order."""
    return list(zip(a, b, strict=False))


def figures(c: Collected, top: int) -> dict[str, float | None]:
    """Each figure per round, then the median over rounds (ratios pair runs of one round)."""
    search_top, hello_top = c.runs("search", top), c.runs("hello", top)
    floor_p50 = [f.p50_ms for f in c.floor]
    search_1 = c.runs("search", 1)
    return {
        "search_over_hello": _median(
            [s.per_second / h.per_second for s, h in _paired(search_top, hello_top) if h.per_second]
        ),
        "search_p99_ms_8": _median([r.p99_ms for r in c.runs("search", 8)]),
        "search_p50_over_sql_p50": _median(
            [s.p50_ms / f for s, f in zip(search_1, floor_p50, strict=False) if f]
        ),
        "dispatch_per_s_32": _median(
            [r.counters.get("dispatched", 0) / r.seconds for r in c.runs("dispatch", top)]
        ),
        "ingest_slots_per_s": c.ingest.get("slots_per_s"),
        "empty_window_p50_ms": _median([r.p50_ms for r in c.runs("empty_window", 1)]),
        "rss_mb_per_worker": max(c.rss_peak_mb.values()) if c.rss_peak_mb else None,
    }


def _verdict(target: Target, value: float | None) -> str:
    if value is None:
        return NOT_AVAILABLE
    met = value >= target.goal if target.direction == ">=" else value <= target.goal
    return "met" if met else "NOT met"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def load_rows(c: Collected) -> list[dict[str, Any]]:
    rows = []
    for scenario, by_conns in c.load.items():
        for connections, runs in sorted(by_conns.items()):
            rows.append(
                {
                    "scenario": scenario,
                    "connections": connections,
                    "runs": len(runs),
                    "per_second": _median([r.per_second for r in runs]),
                    "p50_ms": _median([r.p50_ms for r in runs]),
                    "p99_ms": _median([r.p99_ms for r in runs]),
                    "failed": sum(r.status_errors + r.socket_errors for r in runs),
                    "counters": {
                        k: sum(r.counters.get(k, 0) for r in runs)
                        for k in sorted({k for r in runs for k in r.counters})
                    },
                }
            )
    return rows


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def render(c: Collected, settings: dict[str, Any], top: int) -> tuple[str, dict[str, Any]]:
    """The printed table and the JSON document."""
    values = figures(c, top)
    lines = [
        "",
        f"{'scenario':<14}{'conns':>6}{'runs':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'failed':>8}  counters",
    ]
    rows = load_rows(c)
    for r in rows:
        counters = " ".join(f"{k}={v}" for k, v in r["counters"].items())
        lines.append(
            f"{r['scenario']:<14}{r['connections']:>6}{r['runs']:>5}{_fmt(r['per_second']):>10}"
            f"{_fmt(r['p50_ms']):>9}{_fmt(r['p99_ms']):>9}{r['failed']:>8}  {counters}"
        )
    for f in c.floor:
        lines.append(
            f"{'raw SQL':<14}{1:>6}{1:>5}{_fmt(f.per_second):>10}{_fmt(f.p50_ms):>9}"
            f"{_fmt(f.p99_ms):>9}{0:>8}  {c.floor_source}, {f.queries} searches"
        )
    lines += ["", f"{'figure':<52}{'value':>10}{'target':>12}  verdict"]
    report_figures = []
    for t in TARGETS:
        value = values[t.key]
        t = Target(t.key, t.label.replace("top conn", f"{top} conn"), t.direction, t.goal)
        verdict = _verdict(t, value)
        lines.append(
            f"{t.label:<52}{_fmt(value):>10}{t.direction + ' ' + _fmt(t.goal):>12}  {verdict}"
        )
        report_figures.append(
            {
                "key": t.key,
                "label": t.label,
                "value": value,
                "target": f"{t.direction} {t.goal}",
                "verdict": verdict,
            }
        )
    for what, why in c.unavailable.items():
        lines.append(f"  {what}: {NOT_AVAILABLE} ({why})")
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": settings,
        "figures": report_figures,
        "load": rows,
        "raw_sql": {
            "source": c.floor_source,
            "runs": [vars(f) for f in c.floor],
        },
        "ingest": c.ingest,
        "rss_peak_mb_per_worker": {str(k): round(v, 1) for k, v in c.rss_peak_mb.items()},
        "unavailable": c.unavailable,
        "runs": {
            scenario: {str(n): [r.as_dict() for r in runs] for n, runs in by_conns.items()}
            for scenario, by_conns in c.load.items()
        },
    }
    return "\n".join(lines), document


def write(document: dict[str, Any], name: str = "latest.json") -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
