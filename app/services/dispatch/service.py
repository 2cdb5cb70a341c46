"""One-call dispatch: search, then hold the best candidate that is still free.

Rules (issue 4): never fail because of a race while other free slots exist. The candidates are
tried in ranking order (`holds.take.take_first_free`: skip the slots others are taking, then
wait for the best one still free, never for several at once); if the search had more
candidates than it returned, it is run again (held slots drop out of it) as long as each search
comes back full: a round only fails when others took every candidate of a full page meanwhile,
so the rounds end when the free slots do (MAX_SEARCH_ROUNDS is a safety valve against slots
that churn for ever). Only then is the answer "no free slot".
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.config import Settings
from app.schemas.dispatch import MAX_ALTERNATIVES, DispatchOut, DispatchRequest
from app.schemas.search import SearchQuery, SearchResult
from app.services.audit import record as audit
from app.services.holds import lifecycle as holds
from app.services.holds.take import take_first_free
from app.services.search.service import find_candidates

MAX_SEARCH_ROUNDS = 50


@dataclass(frozen=True)
class NoFreeSlotFound:
    """Nothing could be held: the last search, to say how far it looked."""

    result: SearchResult
    query: SearchQuery


async def dispatch(
    session: AsyncSession,
    principal: Principal,
    data: DispatchRequest,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    search_session: AsyncSession | None = None,
) -> DispatchOut | NoFreeSlotFound:
    """Search and hold the best free candidate for the regulator (rules: module doc).

    `search_session`: the searches' own session (autocommitted, planned per execution), so the
    search stays out of the hold's transaction; the hold re-checks everything it relies on.
    """
    query = SearchQuery.model_validate(data.model_dump(exclude={"ttl_seconds"}))
    for _ in range(MAX_SEARCH_ROUNDS):
        result = await find_candidates(
            search_session or session,
            principal,
            query,
            now=now,
            settings=settings,
            plans_per_execution=search_session is not None,
        )
        ids = [c.slot_id for c in result.candidates]
        hold = await take_first_free(session, principal, ids, data.ttl_seconds)
        if hold is not None:  # its audit event says `via: dispatch`, its rank and the count
            position = ids.index(hold.slot_id)
            return DispatchOut(
                hold=holds.hold_out(hold, data.ttl_seconds),
                candidate=result.candidates[position],
                alternatives=result.candidates[position + 1 : position + 1 + MAX_ALTERNATIVES],
                radius_km=result.radius_km,
                enlarged=result.enlarged,
            )
        if len(ids) < query.limit:  # the search gave all it had: nothing more to try
            break
    await audit.record(
        session,
        principal,
        "dispatch.no_free_slot",
        "dispatch",
        detail={"radius_km": result.radius_km, "enlarged": result.enlarged},
    )
    return NoFreeSlotFound(result, query)
