"""The OpenAPI document tells what the service answers: every error as the one Problem shape.

Rules, applied to every operation of the generated document:
- 422 when it takes parameters or a body; 401, 403, 429 and 503 when it needs a key (it then
  carries the bearer security requirement); 404 when its path names a resource; 400 and 413
  when it takes a body; plus what the route declares with `problems(…)` (400, 409, 415…). Each is
  `application/problem+json` with the shared `Problem` schema; FastAPI's own
  `HTTPValidationError` (another shape than the one sent) is gone.
- `x-idempotency-key: required` on a route makes its Idempotency-Key header required in the
  document (the server answers its own 400 problem when it is missing, hence optional in code).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

_DESCRIPTIONS = {
    400: "Bad request: a body that is not JSON, or a required Idempotency-Key header missing",
    401: "Missing or invalid API key",
    403: "The key's role or scope does not allow this",
    404: "No such resource (or not visible to this key)",
    405: "Method not allowed",
    409: "Conflict with the current state",
    410: "Gone: it has expired",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input: `errors` names each faulty field",
    429: "Too many requests from this API client: retry after `Retry-After` seconds",
    503: "Busy (the request kept losing races for the same rows; nothing changed) or the database "
    "unreachable: retry after `Retry-After` (a write with the same Idempotency-Key)",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; every error of this API has this shape.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "description": f"stable URI of the kind of problem, `{PROBLEM_TYPE_BASE}<kind>`",
            "examples": [f"{PROBLEM_TYPE_BASE}invalid-input"],
        },
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "the request path"},
        "location": {"type": "string", "description": "the faulty field, e.g. `body.window.end`"},
        "errors": {
            "type": "array",
            "description": "one entry per faulty field (invalid input)",
            "items": {
                "type": "object",
                "required": ["location", "message", "type"],
                "properties": {
                    "location": {"type": "string", "examples": ["body.slots[3].start"]},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error answers it gives beyond the generic ones."""
    return {status: {"description": _DESCRIPTIONS[status]} for status in statuses}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _statuses(operation: dict[str, Any]) -> set[int]:
    parameters = operation.get("parameters", [])
    statuses = {int(code) for code in operation.get("responses", {}) if code[0] in "45"}
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if operation.get("security"):
        statuses |= {401, 403, 429, 503}  # every keyed operation reads the database
    if any(p["in"] == "path" for p in parameters):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413}  # a body that is not JSON (or not UTF-8) is a 400
    return statuses


def _document_operation(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status in sorted(_statuses(operation)):
        declared = responses.get(str(status), {}).get("description")
        # FastAPI's own 422 ("Validation Error") described another shape.
        description = declared if declared and status != 422 else _DESCRIPTIONS[status]
        responses[str(status)] = _problem_response(description)
    required_key = operation.pop("x-idempotency-key", None) == "required"
    for parameter in operation.get("parameters", []):
        # A query parameter or a header is absent or text: never JSON null.
        schema = parameter.get("schema", {})
        alternatives = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
        if len(alternatives) == 1:
            schema.pop("anyOf")
            schema.update(alternatives[0])
        if parameter["name"] == "Idempotency-Key":
            schema["minLength"] = 1
            parameter["required"] = required_key


def build_openapi(app: FastAPI, extra_schemas: dict[str, Any]) -> dict[str, Any]:
    """The app's document with the rules above; `extra_schemas` join its components."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas.update(extra_schemas)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            _document_operation(operation)
    app.openapi_schema = document
    return document
