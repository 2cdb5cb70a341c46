"""The two baselines the service is measured against, in the same run and on the same data.

- Framework ceiling: a FastAPI "hello" app, served by uvicorn with the service's settings.
- Database floor: the search statement itself, run sequentially over one asyncpg connection as
  a prepared statement. The statement is not retyped here: a few searches go through the real
  app in-process and the statement that matches `SEARCH_SQL` of app/services/search/sql.py is
  captured with its parameters, then replayed. Until the search endpoint exists, a reference
  KNN query (docs in DESIGN.md) stands in and the report says so.
"""

import re
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import event

from app.core.config import Settings


def hello_app() -> FastAPI:
    """The framework ceiling: the smallest FastAPI endpoint (`GET /hello`)."""
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"message": "hello"}

    return app


@dataclass
class FloorStatements:
    """What the database floor replays: the statement, and per search its executions' parameters.

    A search that enlarges its radius runs the statement more than once; its floor is the sum.
    """

    source: str  # "service" (captured from POST /v1/searches) or "reference"
    statement: str
    searches: list[list[tuple[Any, ...]]] = field(default_factory=list)


REFERENCE_SQL = """
SELECT si.id AS site_id, sl.id AS slot_id, sl.start_at,
       earth_distance(ll_to_earth($1, $2), ll_to_earth(si.lat, si.lon)) AS distance_m
FROM sites si
CROSS JOIN LATERAL (
    SELECT s.id, s.start_at FROM slots s
    WHERE s.site_id = si.id AND s.status IN ('free', 'held')
      AND (s.status = 'free' OR s.hold_expires_at < now())
      AND s.start_at >= now() AND s.start_at < now() + interval '48 hours'
    ORDER BY s.start_at LIMIT 1
) sl
WHERE si.territory_id = ANY($3::uuid[]) AND si.active
ORDER BY ll_to_earth(si.lat, si.lon) <-> ll_to_earth($1, $2)
LIMIT 5
"""


def _normalized(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def _service_search_sql() -> str | None:
    """The search statement's text as the service defines it, if the search service exists."""
    for module_name in ("app.services.search.service", "app.services.search.sql"):
        try:
            module = __import__(module_name, fromlist=["SEARCH_SQL"])
        except ImportError:
            continue
        sql = getattr(module, "SEARCH_SQL", None)
        if sql is not None:
            return str(getattr(sql, "text", sql))
    return None


async def capture_search_statements(
    url: str, requests: list[tuple[str, dict[str, Any]]]
) -> FloorStatements | None:
    """Run the searches through the app in-process; return the search statement it executed."""
    from app.main import create_app

    service_sql = _service_search_sql()
    if service_sql is None:
        return None
    app = create_app(Settings(database_url=url, log_level="WARNING"))
    statement = ""
    searches: list[list[tuple[Any, ...]]] = []
    async with app.router.lifespan_context(app):
        sync_engine = app.state.engine.sync_engine
        compiled = _normalized(str(_compile(service_sql, sync_engine.dialect)))
        # Searches run on a pool of their own (app/main.py) when the service has one.
        search_engine = getattr(app.state, "search_engine", app.state.engine).sync_engine

        def before(conn: Any, cursor: Any, executed: str, params: Any, *rest: Any) -> None:
            nonlocal statement
            if _normalized(executed) == compiled:
                statement = executed
                searches[-1].append(tuple(params))

        event.listen(search_engine, "before_cursor_execute", before)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for key, body in requests:
                searches.append([])
                response = await client.post(
                    "/v1/searches", json=body, headers={"Authorization": f"Bearer {key}"}
                )
                if response.status_code != 200:
                    return None
    if not statement:
        return None
    return FloorStatements("service", statement, [s for s in searches if s])


def _compile(sql: str, dialect: Any) -> Any:
    from sqlalchemy import text

    return text(sql).compile(dialect=dialect)


def reference_statements(
    locations: list[tuple[float, float, list[uuid.UUID]]],
) -> FloorStatements:
    """The reference KNN query, for when the service has no search statement yet."""
    return FloorStatements(
        "reference", REFERENCE_SQL, [[(lat, lon, ids)] for lat, lon, ids in locations]
    )


@dataclass(frozen=True)
class FloorRun:
    queries: int
    p50_ms: float
    p99_ms: float
    per_second: float


async def run_database_floor(url: str, floor: FloorStatements, passes: int = 2) -> FloorRun:
    """Replay the statements sequentially on one connection, prepared once; time each.

    The connection plans each execution with its values, as the service's search connections
    do (app/core/db.py), so the floor runs the same plans.
    """
    conn = await asyncpg.connect(url, server_settings={"plan_cache_mode": "force_custom_plan"})
    try:
        prepared = await conn.prepare(floor.statement)
        for executions in floor.searches[:20]:  # warm the plan cache and the buffers
            for params in executions:
                await prepared.fetch(*params)
        timings = []
        started = time.perf_counter()
        for _ in range(passes):
            for executions in floor.searches:
                t0 = time.perf_counter()
                for params in executions:
                    await prepared.fetch(*params)
                timings.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    timings.sort()
    return FloorRun(
        queries=len(timings),
        p50_ms=statistics.median(timings) * 1000,
        p99_ms=timings[min(len(timings) - 1, int(len(timings) * 0.99))] * 1000,
        per_second=len(timings) / elapsed,
    )


async def explain(url: str, floor: FloorStatements) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement for the first search (where the time goes)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) " + floor.statement, *floor.searches[0][0]
        )
    finally:
        await conn.close()
    return "\n".join(r[0] for r in rows)
