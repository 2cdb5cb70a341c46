from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db_timing import pool_checked_out
from app.core.metrics import CONTENT_TYPE, POOL_CHECKED_OUT, render_metrics

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition: latency per route, pool use, holds and bookings."""
    engine: AsyncEngine | None = getattr(request.app.state, "engine", None)
    if engine is not None:
        POOL_CHECKED_OUT.set(pool_checked_out(engine))
    return Response(render_metrics(), media_type=CONTENT_TYPE)
