import io

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.core.auth import AdminDep
from app.core.db import SessionDep
from app.core.errors import AppError, InvalidInput
from app.core.openapi import problems
from app.services.audit import record as audit
from app.services.directory.centroids import parse_centroids_csv, set_centroids

router = APIRouter(prefix="/v1/communes", tags=["communes"])


class UnsupportedMediaType(AppError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class CentroidsLoaded(BaseModel):
    rows: int
    communes_updated: int


@router.put(
    "/centroids",
    responses=problems(415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "CSV with a header `insee_code,lat,lon`, one commune a line",
        }
    },
)
async def load_centroids(request: Request, session: SessionDep, admin: AdminDep) -> CentroidsLoaded:
    """Set commune centroids from a CSV (the same format as `python -m app load-centroids`)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "text/csv":
        raise UnsupportedMediaType("send the centroids as text/csv (insee_code,lat,lon)")
    try:
        body = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV is not UTF-8", location="body") from None
    rows = parse_centroids_csv(io.StringIO(body, newline=""), "body")
    if not rows:
        raise InvalidInput("the CSV has no rows under its header", location="body")
    updated = await set_centroids(session, rows)
    await audit.record(
        session,
        admin,
        "communes.load_centroids",
        "commune",
        detail={"rows": len(rows), "communes_updated": updated},
    )
    return CentroidsLoaded(rows=len(rows), communes_updated=updated)
