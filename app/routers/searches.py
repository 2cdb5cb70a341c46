"""POST /v1/searches, on a lean path (issue 15): the body parsed once from its bytes, the
in-memory index read without a database connection, the answer serialised once.

The SQL search answers while the index is not usable (`search.index.live.serving`); only then is
a connection of the searches' pool taken.
"""

from fastapi import APIRouter, Request, Response

from app.core.auth import RegulatorDep
from app.core.body import parse_json_body, request_body_of
from app.core.db import SearchSessionOpenerDep
from app.schemas.search import SearchQuery, SearchResult
from app.services.search.index.live import serving
from app.services.search.service import rank_candidates

router = APIRouter(prefix="/v1/searches", tags=["dispatch"])


@router.post("", response_model=SearchResult, openapi_extra=request_body_of(SearchQuery))
async def search(
    request: Request,
    # The key first: a refused caller never has its body read nor takes a connection.
    regulator: RegulatorDep,
    open_session: SearchSessionOpenerDep,
) -> Response:
    """Ranked free slots near a patient, best first, in the regulator's territories."""
    query = parse_json_body(SearchQuery, await request.body())
    state = request.app.state
    settings = state.settings
    index = serving(getattr(state, "search_index", None))
    sink = getattr(state, "audit_buffer", None)
    if index is not None and sink is not None:
        answer = await rank_candidates(
            None, regulator, query, settings=settings, index=index, audit_sink=sink
        )
    else:
        async with open_session() as session:
            answer = await rank_candidates(
                session, regulator, query, settings=settings, plans_per_execution=True, index=index
            )
    # Built by the service as plain values: serialised once (orjson), not validated again.
    return Response(answer.json(), media_type="application/json")
