from fastapi import APIRouter, Request

from app.core.auth import RegulatorDep
from app.core.db import SessionDep, use_autocommit
from app.schemas.search import SearchQuery, SearchResult
from app.services.search import find_candidates

router = APIRouter(prefix="/v1/searches", tags=["dispatch"])


@router.post("")
async def search(
    body: SearchQuery, request: Request, session: SessionDep, regulator: RegulatorDep
) -> SearchResult:
    """Ranked free slots near a patient, best first, in the regulator's territories."""
    # The search and its audit event are one statement: no transaction around it.
    await use_autocommit(session)
    return await find_candidates(session, regulator, body, settings=request.app.state.settings)
