"""The FHIR interface for the national SAS platform (ANS guide), under /fhir.

Thin: parse the FHIR request, authorise (role `sas_platform`), call `services.fhir`, answer in
`application/fhir+json` (or `application/json+fhir` when that is what the client accepts).
Every error under /fhir is an OperationOutcome (`install_fhir_error_handlers`). These routes
are left out of the OpenAPI document: FHIR describes them with the CapabilityStatement at
/fhir/metadata, and their errors are not the problem+json the document promises.
"""

import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.core.auth import SasPlatformDep
from app.core.db import SessionDep
from app.core.errors import AppError, allowed_methods
from app.services.fhir import codes, regulators
from app.services.fhir.bundle import searchset
from app.services.fhir.capability import capability_statement
from app.services.fhir.outcome import FhirError, bad_request, operation_outcome
from app.services.fhir.regulator_body import read_identifier_param, read_regulator
from app.services.fhir.search_params import needs_zone, read_slot_query
from app.services.fhir.slot_search import free_slots, territory_zone

PREFIX = "/fhir"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
_STARTED = datetime.now(UTC).isoformat(timespec="seconds")
_BODY_TYPES = (*codes.FHIR_MEDIA_TYPES, "application/json")


def _media_type(request: Request) -> str:
    accept = request.headers.get("accept", "")
    if codes.FHIR_JSON_LEGACY in accept and codes.FHIR_JSON not in accept:
        return codes.FHIR_JSON_LEGACY
    return codes.FHIR_JSON


def fhir_response(
    request: Request, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=f"{_media_type(request)}; charset=utf-8",
        headers=headers,
    )


def base_url(request: Request) -> str:
    configured = request.app.state.settings.fhir_base_url
    if configured is not None:
        return str(configured).rstrip("/")
    return str(request.base_url).rstrip("/") + PREFIX


@router.get("/metadata")
async def metadata(request: Request, _: SasPlatformDep) -> Response:
    statement = capability_statement(base_url(request), request.app.version, _STARTED)
    return fhir_response(request, statement)


# The main pool, not the searches' one: this statement's plan does not depend on its values,
# so its cached generic plan saves the ~2.5 ms of planning an 832-territory scope costs.
@router.get("/Slot")
async def search_slots(
    request: Request, principal: SasPlatformDep, session: SessionDep
) -> Response:
    params = list(request.query_params.multi_items())
    strict = "handling=strict" in request.headers.get("prefer", "").replace(" ", "")
    zone = "Europe/Paris"
    if needs_zone(params):
        zone = await territory_zone(session, principal.territory_ids)
    query = read_slot_query(params, ZoneInfo(zone), strict)
    rows = await free_slots(session, query.rpps, query.start, query.end, principal.territory_ids)
    return fhir_response(request, searchset(query, rows, base_url(request)))


async def _resource_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _BODY_TYPES:
        raise FhirError(
            415,
            "not-supported",
            f"send the resource as {codes.FHIR_JSON} (or {codes.FHIR_JSON_LEGACY})",
        )
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise bad_request("the body is not JSON") from exc


def _answer(request: Request, stored: regulators.StoredRegulator, status: int) -> Response:
    if not stored.active:
        request.app.state.principal_cache.forget_client(stored.client_id)
    location = f"{base_url(request)}/Practitioner/{stored.client_id}"
    return fhir_response(
        request, regulators.practitioner(stored), status, headers={"Location": location}
    )


@router.post("/Practitioner")
async def create_regulator(
    request: Request, principal: SasPlatformDep, session: SessionDep
) -> Response:
    account = read_regulator(await _resource_body(request))
    stored = await regulators.create_regulator(session, principal, account)
    return _answer(request, stored, 201)


@router.put("/Practitioner")
async def update_regulator(
    request: Request, principal: SasPlatformDep, session: SessionDep
) -> Response:
    system, value = read_identifier_param(request.query_params.getlist("identifier"))
    account = read_regulator(await _resource_body(request))
    stored, created = await regulators.upsert_regulator(session, principal, system, value, account)
    return _answer(request, stored, 201 if created else 200)


_ISSUE_CODES = {401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported"}


def _outcome_of(request: Request, exc: Exception) -> Response:
    if isinstance(exc, FhirError):
        body = operation_outcome(exc.code, exc.diagnostics, exc.expression)
        return fhir_response(request, body, exc.status, exc.headers)
    if isinstance(exc, AppError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        code = _ISSUE_CODES.get(exc.status, "processing")
        return fhir_response(request, operation_outcome(code, exc.detail), exc.status, headers)
    if isinstance(exc, RequestValidationError):
        return fhir_response(request, operation_outcome("invalid", "invalid request"), 400)
    if isinstance(exc, StarletteHTTPException):
        headers = {}
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        code = _ISSUE_CODES.get(exc.status_code, "processing")
        detail = (
            "no such FHIR interaction here; see /fhir/metadata"
            if exc.status_code in (404, 405)
            else str(exc.detail)
        )
        return fhir_response(request, operation_outcome(code, detail), exc.status_code, headers)
    return fhir_response(
        request,
        operation_outcome("exception", "the server failed to handle this request; it is logged"),
        500,
    )


Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def _under_fhir(original: Handler) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        path = request.url.path
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return _outcome_of(request, exc)
        answer = original(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    return handler


def install_fhir_error_handlers(app: FastAPI) -> None:
    """Errors under /fhir as OperationOutcome; elsewhere the app's own handlers, unchanged.

    Call after `core.errors.install_error_handlers`: each handler it installed is wrapped.
    """
    for exc_class, original in list(app.exception_handlers.items()):
        app.exception_handlers[exc_class] = _under_fhir(original)
    app.add_exception_handler(FhirError, _under_fhir(_not_fhir))


async def _not_fhir(request: Request, exc: Exception) -> Response:  # pragma: no cover
    raise exc  # a FhirError is raised under /fhir only
