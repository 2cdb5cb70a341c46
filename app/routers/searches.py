from fastapi import APIRouter, Request

from app.core.auth import RegulatorDep
from app.core.db import SearchSessionDep
from app.schemas.search import SearchQuery, SearchResult
from app.services.search import find_candidates

router = APIRouter(prefix="/v1/searches", tags=["dispatch"])


@router.post("")
async def search(
    body: SearchQuery, request: Request, session: SearchSessionDep, regulator: RegulatorDep
) -> SearchResult:
    """Ranked free slots near a patient, best first, in the regulator's territories."""
    return await find_candidates(
        session, regulator, body, settings=request.app.state.settings, plans_per_execution=True
    )
