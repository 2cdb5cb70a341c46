from fastapi import APIRouter, Request, status
from starlette.responses import Response

from app.core.auth import RegulatorDep
from app.core.body import parse_json_body, request_body_of
from app.core.db import SearchSessionsDep, SessionDep
from app.core.errors import problem_response
from app.core.openapi import problems
from app.routers.idempotent import IdempotencyKey, idempotent
from app.schemas.dispatch import DispatchOut, DispatchRequest
from app.services.dispatch import service as dispatching
from app.services.dispatch.errors import NoFreeSlot

router = APIRouter(prefix="/v1/dispatch", tags=["dispatch"])


def _no_free_slot(outcome: dispatching.NoFreeSlotFound) -> NoFreeSlot:
    result = outcome.result
    return NoFreeSlot(
        f"no free slot within {result.radius_km:g} km between "
        f"{result.window.start.isoformat()} and {result.window.end.isoformat()}; "
        "open an en-sus request to the professionals who accept patients beyond their slots",
        radius_km=result.radius_km,
        enlarged=result.enlarged,
        en_sus_request={
            "method": "POST",
            "href": "/v1/requests",
            "body": outcome.query.model_dump(mode="json", exclude_none=True),
        },
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DispatchOut,
    responses={
        404: {
            "description": "no free slot (problem type …/no-free-slot), with a hint "
            "to open an en-sus request"
        },
        **problems(503),
    },
    openapi_extra=request_body_of(DispatchRequest),
)
async def dispatch(
    request: Request,
    session: SessionDep,
    regulator: RegulatorDep,
    search_sessions: SearchSessionsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Search and hold the best free slot in one call; 404 `no-free-slot` when none is free.

    The 404 is answered, not raised, so the transaction commits and the search's audit is kept;
    an Idempotency-Key that got it stays free for a retry. The body is parsed once from its
    bytes (`core/body`), after the key.
    """
    body = parse_json_body(DispatchRequest, await request.body())

    async def produce() -> DispatchOut | Response:
        outcome = await dispatching.dispatch(
            session,
            regulator,
            body,
            settings=request.app.state.settings,
            search_sessions=search_sessions,
            index=getattr(request.app.state, "search_index", None),
            audit_sink=getattr(request.app.state, "audit_buffer", None),
        )
        if isinstance(outcome, dispatching.NoFreeSlotFound):
            return _problem(request, _no_free_slot(outcome))
        return outcome

    return await idempotent(
        request, session, regulator, idempotency_key, body, status.HTTP_201_CREATED, produce
    )


def _problem(request: Request, error: NoFreeSlot) -> Response:
    return problem_response(
        error.status,
        error.slug,
        error.title,
        error.detail,
        instance=request.url.path,
        **error.extensions,
    )
