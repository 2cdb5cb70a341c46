"""SMART Scheduling Links publication (services/smart): public, keyless, streamed.

`GET /smart/$bulk-publish` is the manifest; `GET /smart/{departement}/{Location,Schedule,
Slot}.ndjson` its files (application/fhir+ndjson, one FHIR R4 resource a line). Errors are
problem+json (like the rest of the non-FHIR API, and documented here); the spec names no
error format for these static-like files.
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from app.core.openapi import problems
from app.schemas.smart import Manifest
from app.services.smart import publication
from app.services.smart.publication import Connect

PREFIX = "/smart"
NDJSON = "application/fhir+ndjson"
router = APIRouter(prefix=PREFIX, tags=["smart scheduling links"])

Since = Annotated[
    str | None,
    Query(
        alias="_since",
        max_length=40,
        description="a timestamp with an offset: only the slots changed since (incremental)",
    ),
]
DepartementPath = Annotated[
    str,
    Path(
        pattern="^(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6])$",
        description="a département code, as in the manifest's `extension.state`",
    ),
]


async def stream_connections(request: Request) -> Connect:
    """Each read opens its own connection: a file is streamed after the endpoint returned."""
    connect: Connect = request.app.state.engine.connect
    return connect


ConnectDep = Annotated[Connect, Depends(stream_connections)]


def _cache_headers() -> dict[str, str]:
    return {"Cache-Control": f"public, max-age={publication.MAX_AGE_SECONDS}"}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


@router.get("/$bulk-publish", response_model=Manifest, responses=problems(503))
async def bulk_publish(request: Request, connect: ConnectDep, since: Since = None) -> Response:
    """The manifest: one Location, Schedule and Slot file per publishing département."""
    after = publication.read_since(since)
    body = await publication.manifest(connect, str(request.url), _base(request), after)
    return Response(orjson.dumps(body), media_type="application/json", headers=_cache_headers())


_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "NDJSON: one minified FHIR R4 resource a line",
        "content": {NDJSON: {"schema": {"type": "string"}}},
    },
    **problems(404, 503),
}


async def _file(connect: Connect, kind: str, departement: str, since: str | None) -> Response:
    after = publication.read_since(since)
    territories = await publication.publishing_territories(connect, departement)
    query = publication.file_query(kind, territories, after)
    return StreamingResponse(
        publication.ndjson(connect, query), media_type=NDJSON, headers=_cache_headers()
    )


@router.get("/{departement}/Location.ndjson", response_class=Response, responses=_FILE_RESPONSES)
async def locations(connect: ConnectDep, departement: DepartementPath) -> Response:
    """The département's published sites (FHIR R4 Location)."""
    return await _file(connect, "Location", departement, None)


@router.get("/{departement}/Schedule.ndjson", response_class=Response, responses=_FILE_RESPONSES)
async def schedules(connect: ConnectDep, departement: DepartementPath) -> Response:
    """One Schedule per professional and published site (FHIR R4 Schedule)."""
    return await _file(connect, "Schedule", departement, None)


@router.get("/{departement}/Slot.ndjson", response_class=Response, responses=_FILE_RESPONSES)
async def slots(connect: ConnectDep, departement: DepartementPath, since: Since = None) -> Response:
    """The free published slots of the window (FHIR R4 Slot); with `_since`, those changed."""
    return await _file(connect, "Slot", departement, since)
