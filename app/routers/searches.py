"""POST /v1/searches, on a lean path (issue 15): the body parsed once from its bytes, the
in-memory index read without a database connection, the answer serialised once.

Two doors, one answer (`_from_index`):
- `SearchLane`, a pure ASGI middleware in front of FastAPI's routing, answers a search whose
  key is in the process's principal cache (a regulator's), whose body is valid and which the
  index may serve: no routing, no dependencies, no session. Everything else goes on, untouched
  (the body replayed), to
- the route, which answers the rest: a key to look up, a refusal (401, 403, 422), and the SQL
  search while the index is not usable (`search.index.live.serving`), only then taking a
  connection of the searches' pool.
"""

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.asgi_body import read_body, replaying
from app.core.auth import Principal, PrincipalCache, RegulatorDep
from app.core.body import parse_json_body, request_body_of
from app.core.db import SearchSessionOpenerDep
from app.core.errors import AppError, app_error_response
from app.core.security import hash_api_key
from app.schemas.search import SearchQuery, SearchResult
from app.services.audit.buffer import AuditBuffer
from app.services.search.index.live import SearchIndex, serving
from app.services.search.service import rank_candidates
from app.services.search.window import MAX_AHEAD

PATH = "/v1/searches"
router = APIRouter(prefix=PATH, tags=["dispatch"])


async def _from_index(
    state: State, principal: Principal, query: SearchQuery, index: SearchIndex, sink: AuditBuffer
) -> Response:
    answer = await rank_candidates(
        None, principal, query, settings=state.settings, index=index, audit_sink=sink
    )
    # Built by the service as plain values: serialised once (orjson), not validated again.
    return Response(answer.json(), media_type="application/json")


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
    index = serving(getattr(state, "search_index", None))
    sink = getattr(state, "audit_buffer", None)
    if index is not None and sink is not None:
        return await _from_index(state, regulator, query, index, sink)
    async with open_session() as session:
        answer = await rank_candidates(
            session, regulator, query, settings=state.settings, plans_per_execution=True
        )
    return Response(answer.json(), media_type="application/json")


def _cached_regulator(state: State, scope: Scope) -> Principal | None:
    """The caller, if its key is in the principal cache and it is a regulator (the route's
    checks, answered from memory); None sends the request on to the route."""
    cache: PrincipalCache | None = getattr(state, "principal_cache", None)
    if cache is None:
        return None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            key = key.strip()
            if scheme.lower() != "bearer" or not key:
                return None
            principal = cache.get(hash_api_key(key))
            return principal if principal is not None and principal.role == "regulator" else None
    return None


class SearchLane:
    """POST /v1/searches answered from the index without FastAPI's routing and dependencies,
    when the key is cached, the body valid and the index usable (module doc); the route's
    answer, rate limit and audit, by the same functions."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route: APIRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        state: State = scope["app"].state
        principal = _cached_regulator(state, scope)
        index: SearchIndex | None = getattr(state, "search_index", None)
        sink: AuditBuffer | None = getattr(state, "audit_buffer", None)
        now = dt.datetime.now(dt.UTC)
        if (
            principal is None
            or index is None
            or sink is None
            or index.unusable(now + MAX_AHEAD) is not None
        ):
            await self.app(scope, receive, send)  # the route decides (and counts a fallback)
            return
        body = await read_body(receive)
        replay = replaying(body, receive)
        try:
            query = SearchQuery.model_validate_json(body)
        except ValidationError:
            await self.app(scope, replay, send)  # the route's 422 names the field
            return
        serving(index)  # counted as an index answer, as the route counts it
        request = Request(scope, replay)
        try:
            await state.rate_limiter.hit(principal.role, str(principal.client_id))
            response = await _from_index(state, principal, query, index, sink)
        except AppError as exc:  # a refusal: the same problem+json as the route's handler
            response = app_error_response(request, exc)
        scope["route"] = self._search_route(scope["app"])  # the metrics' route label
        state.search_lane_answers = getattr(state, "search_lane_answers", 0) + 1
        await response(scope, replay, send)

    def _search_route(self, app: Any) -> APIRoute | None:
        if self._route is None:
            self._route = next(
                (
                    r
                    for r in app.routes
                    if isinstance(r, APIRoute) and r.path == PATH and "POST" in (r.methods or ())
                ),
                None,
            )
        return self._route
