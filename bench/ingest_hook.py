"""Runs the ingest measurement of bench/ingest.py (written with the slot intake) when it exists.

That module is found by name: its first function among INGEST_ENTRY_POINTS is called with the
keyword arguments it declares out of `context` (sync or async), and its answer is read for a
slots-per-second figure: a number, or a mapping with a key like `put_created_slots_per_s`.
bench/ingest.py today has `async def run(args: argparse.Namespace)`: `context["args"]` carries
the options of its own command line (rounds, batches, professionals, json).
"""

import asyncio
import importlib
import inspect
from collections.abc import Mapping
from typing import Any

INGEST_ENTRY_POINTS = ("run", "run_ingest", "bench_ingest", "measure", "measure_ingest", "main")


def _slots_per_second(answer: Any) -> float | None:
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        return float(answer)
    if isinstance(answer, Mapping):
        preferred = ("put_created_slots_per_s", "slots_per_s", "slots_per_second")
        for key in preferred:
            if isinstance(answer.get(key), int | float):
                return float(answer[key])
        for key, value in answer.items():
            if (
                "slots_per_s" in str(key)
                and "copy" not in str(key)
                and isinstance(value, int | float)
            ):
                return float(value)
    return None


def run_ingest(context: dict[str, Any]) -> dict[str, Any]:
    """{"slots_per_s": …, "raw": answer} or {"unavailable": why}; never raises."""
    try:
        module = importlib.import_module("bench.ingest")
    except ImportError as exc:
        return {"unavailable": f"bench/ingest.py is not there yet ({exc})"}
    entry = next(
        (getattr(module, n) for n in INGEST_ENTRY_POINTS if callable(getattr(module, n, None))),
        None,
    )
    if entry is None:
        return {"unavailable": f"bench/ingest.py has none of {', '.join(INGEST_ENTRY_POINTS)}"}
    parameters = inspect.signature(entry).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    kwargs = {k: v for k, v in context.items() if takes_any or k in parameters}
    try:
        answer = entry(**kwargs)
        if inspect.isawaitable(answer):
            answer = asyncio.run(_awaited(answer))
    except Exception as exc:  # the harness reports any failure of the ingest bench, never crashes
        return {"unavailable": f"bench.ingest.{entry.__name__} failed: {exc!r}"}
    rate = _slots_per_second(answer)
    raw = answer if isinstance(answer, Mapping) else {"answer": repr(answer)}
    if rate is None:
        return {"unavailable": "bench.ingest gave no slots-per-second figure", "raw": raw}
    return {"slots_per_s": rate, "raw": dict(raw)}


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
