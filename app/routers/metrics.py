import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db_timing import pool_checked_out
from app.core.metrics import (
    CONTENT_TYPE,
    POOL_CHECKED_OUT,
    WEBHOOK_OLDEST_UNDELIVERED,
    render_metrics,
)
from app.services.webhooks.admin import oldest_undelivered_seconds

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition: latency per route, pool use, holds, bookings and webhooks."""
    engine: AsyncEngine | None = getattr(request.app.state, "engine", None)
    if engine is not None:
        POOL_CHECKED_OUT.set(pool_checked_out(engine))
        try:
            WEBHOOK_OLDEST_UNDELIVERED.set(await oldest_undelivered_seconds(engine))
        except Exception:  # the database is away: the other metrics still answer
            logger.warning("cannot read the oldest undelivered webhook", exc_info=True)
    return Response(render_metrics(), media_type=CONTENT_TYPE)
