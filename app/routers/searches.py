from fastapi import APIRouter, Request, Response

from app.core.auth import RegulatorDep
from app.core.db import SearchSessionDep
from app.schemas.search import SearchQuery, SearchResult
from app.services.search.service import find_candidates

router = APIRouter(prefix="/v1/searches", tags=["dispatch"])


@router.post("", response_model=SearchResult)
async def search(
    body: SearchQuery,
    request: Request,
    # The key first: a refused caller never takes a connection from the searches' pool.
    regulator: RegulatorDep,
    session: SearchSessionDep,
) -> Response:
    """Ranked free slots near a patient, best first, in the regulator's territories."""
    result = await find_candidates(
        session,
        regulator,
        body,
        settings=request.app.state.settings,
        plans_per_execution=True,
        index=getattr(request.app.state, "search_index", None),
    )
    # Built and checked by the service already: serialised once, not validated again.
    return Response(result.model_dump_json(), media_type="application/json")
