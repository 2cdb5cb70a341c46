"""One error hierarchy, rendered as RFC 9457 problem+json by one set of handlers."""

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

PROBLEM_TYPE_BASE = "urn:snp-dispatch:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_type(slug: str) -> str:
    """The stable `type` URI of a kind of problem."""
    return PROBLEM_TYPE_BASE + slug


class AppError(Exception):
    """A refusal the client can act on; `slug` names its stable problem type."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"
    retry_after: int | None = None  # seconds, sent as `Retry-After` (429, 503)

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidInput(AppError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class Unauthenticated(AppError):
    status, slug, title = 401, "unauthenticated", "Missing or invalid API key"


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class IdempotencyKeyMissing(AppError):
    status, slug, title = 400, "idempotency-key-missing", "Idempotency-Key header required"


class IdempotencyKeyReused(AppError):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency-Key reused with another body"


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _printable(text: str, limit: int = 100) -> str:
    """Client-sent text (an unknown key may hold anything) made safe to echo: cut, lone
    surrogates and NUL replaced, so that the answer always serialises and stores."""
    return text[:limit].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "slots", 3, "start")` → `body.slots[3].start`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _printable(str(part))
    return out


def validation_errors(errors: Any) -> list[dict[str, str]]:
    """Pydantic errors as `{"location", "message", "type"}`, without echoing the input back."""
    return [
        {
            "location": _location(e["loc"]),
            "message": _printable(str(e["msg"]), 500),
            "type": e["type"],
        }
        for e in errors
    ]


async def _app_error_handler(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, AppError):  # registered for that type only
        raise exc
    return app_error_response(request, exc)


def app_error_response(request: Request, exc: AppError) -> Response:
    """The problem+json answer of an `AppError` (its handler, and the search's lane)."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(
        exc.status,
        exc.slug,
        exc.title,
        exc.detail,
        instance=request.url.path,
        headers=headers,
        **exc.extensions,
    )


async def _validation_handler(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # registered for that type only
        raise exc
    errors = validation_errors(exc.errors())
    first = errors[0] if errors else {"location": "request", "message": "invalid"}
    detail = f"{first['location']}: {first['message']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return problem_response(
        422, "invalid-input", "Invalid input", detail, instance=request.url.path, errors=errors
    )


_HTTP_SLUGS = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method that some route takes on this path, asked of the route table itself (the
    router names only the methods of the first route whose path matches)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in routes):
            allowed.append(method)
    return allowed


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # registered for that type only
        raise exc
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem_response(
        exc.status_code,
        slug,
        title,
        str(exc.detail),
        instance=request.url.path,
        headers=headers or None,
    )


async def _unexpected_handler(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server log by Starlette's ServerErrorMiddleware; the client
    # gets no internals.
    return problem_response(
        500,
        "internal-error",
        "Internal error",
        "The service failed to handle this request; it has been logged.",
        instance=request.url.path,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
