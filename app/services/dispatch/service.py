"""One-call dispatch: search, then hold the best candidate that is still free.

Rules: never fail because of a race while other free slots exist. The candidates are tried in
ranking order (`holds.take.take_first_free`: skip the slots others are taking, then wait for
the best one still free, never for several at once, releasing a lost one at once); if the
search had more candidates than it returned, it is run again (held slots drop out of it) as
long as each search comes back full: a round only fails when others took every candidate of a
full page meanwhile, so the rounds end when the free slots do. Only then is the answer "no free
slot". The time a dispatch spends waiting on rivals is bounded (DISPATCH_BUDGET_SECONDS, default
2 s; each wait's lock_timeout is what is left of it): past it, a 503 `dispatch-contention` with
Retry-After, never a wait on the statement timeout. Queueing under load does not spend it.

Each round's search runs on a connection of the searches' pool taken for that search only and
given back before the hold is tried: pools are always taken in one order (the request's
transaction first), and no search connection is held through the request.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.auth import Principal
from app.core.config import Settings, get_settings
from app.core.crypto import cipher_for
from app.core.db import search_session
from app.schemas.dispatch import MAX_ALTERNATIVES, DispatchOut, DispatchRequest
from app.schemas.search import SearchQuery, SearchResult
from app.services.audit import record as audit
from app.services.audit.buffer import AuditBuffer
from app.services.dispatch.errors import DispatchContention
from app.services.holds import lifecycle as holds
from app.services.holds.take import BudgetSpent, WaitBudget, take_first_free
from app.services.search.index.live import SearchIndex, serving
from app.services.search.reference import open_reference
from app.services.search.service import find_candidates


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
    search_sessions: async_sessionmaker[AsyncSession] | None = None,
    index: SearchIndex | None = None,
    audit_sink: AuditBuffer | None = None,
) -> DispatchOut | NoFreeSlotFound:
    """Search and hold the best free candidate for the regulator (rules: module doc).

    `search_sessions`: the searches' own pool (autocommitted, planned per execution), so the
    search stays out of the hold's transaction; the hold re-checks everything it relies on.
    Without it (tests), the search runs in `session`. `index`: the process's search index; while
    it is usable the search reads it and needs no connection of its own (its audit row goes
    with the request's transaction).
    """
    settings = settings or get_settings()
    budget = WaitBudget(settings.dispatch_budget_seconds)
    cipher = cipher_for(settings.patient_data_key)
    query = SearchQuery.model_validate(data.model_dump(exclude={"ttl_seconds"}))
    while True:
        result = await _search(
            session, search_sessions, principal, query, now, settings, index, audit_sink
        )
        ids = [c.slot_id for c in result.candidates]
        search = open_reference(cipher, principal.client_id, result.search_id)
        try:
            hold = await take_first_free(
                session, principal, ids, data.ttl_seconds, budget=budget, search=search
            )
        except BudgetSpent:
            raise _busy(settings) from None
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
        if budget.left <= 0:
            raise _busy(settings)
    await audit.record(
        session,
        principal,
        "dispatch.no_free_slot",
        "dispatch",
        detail={"radius_km": result.radius_km, "enlarged": result.enlarged},
    )
    return NoFreeSlotFound(result, query)


async def _search(
    session: AsyncSession,
    search_sessions: async_sessionmaker[AsyncSession] | None,
    principal: Principal,
    query: SearchQuery,
    now: datetime | None,
    settings: Settings,
    index: SearchIndex | None,
    audit_sink: AuditBuffer | None,
) -> SearchResult:
    reading = serving(index)
    if reading is not None:
        return await find_candidates(
            session,
            principal,
            query,
            now=now,
            settings=settings,
            index=reading,
            audit_sink=audit_sink,
        )
    if search_sessions is None:
        return await find_candidates(session, principal, query, now=now, settings=settings)
    async with search_session(search_sessions) as searching:
        return await find_candidates(
            searching, principal, query, now=now, settings=settings, plans_per_execution=True
        )


def _busy(settings: Settings) -> DispatchContention:
    return DispatchContention(
        f"every candidate was being taken by others for {settings.dispatch_budget_seconds:g} s; "
        "nothing was held, dispatch again",
    )
