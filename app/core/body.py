"""A JSON body parsed once from its bytes, for the lean routes (search, dispatch).

FastAPI's own body handling decodes the JSON, then validates the Python objects: two passes.
`parse_json_body` lets pydantic validate the bytes in one (`model_validate_json`); its errors
are raised as FastAPI's would be (`RequestValidationError`, each location under `body`), so the
same 422 problem answers them. `request_body_of` documents the body in the OpenAPI document as
FastAPI would have.
"""

import json
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_REF = "#/components/schemas/{model}"


def parse_json_body(model: type[M], body: bytes) -> M:
    """`model` from the request's bytes; 422 (`body…` locations) when they do not fit."""
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as exc:
        failure = exc
    if any(e["type"] == "json_invalid" for e in failure.errors()):
        # JSON that Python's decoder takes (a lone surrogate escape, say) is judged field by
        # field as FastAPI would, so the 422 names the field.
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            decoded = None
        else:
            try:
                return model.model_validate(decoded)
            except ValidationError as exc:
                failure = exc
    errors = [{**e, "loc": ("body", *e["loc"])} for e in failure.errors(include_url=False)]
    raise RequestValidationError(errors) from None


def request_body_of(model: type[BaseModel]) -> dict[str, Any]:
    """The `openapi_extra` of a route whose body is `model`, read by `parse_json_body`."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}
            },
        }
    }


def component_schemas(model: type[BaseModel]) -> dict[str, Any]:
    """`model` and the models it nests, as components of the OpenAPI document."""
    schema = model.model_json_schema(ref_template=_REF)
    nested: dict[str, Any] = schema.pop("$defs", {})
    return {**nested, model.__name__: schema}
