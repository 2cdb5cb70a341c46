"""Problem+json rendering: locations, no echo of the input, stable types."""

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from app.core.errors import (
    PROBLEM_MEDIA_TYPE,
    AppError,
    Conflict,
    Forbidden,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    Unauthenticated,
    problem_response,
    validation_errors,
)


class Item(BaseModel):
    start: int


class Batch(BaseModel):
    slots: list[Item]


def test_validation_error_location_reads_like_a_path() -> None:
    with pytest.raises(ValidationError) as caught:
        Batch.model_validate({"slots": [{"start": 1}, {"start": "secret-value"}]})
    errors = validation_errors([{**e, "loc": ("body", *e["loc"])} for e in caught.value.errors()])
    assert errors == [
        {
            "location": "body.slots[1].start",
            "message": errors[0]["message"],
            "type": "int_parsing",
        }
    ]
    assert "secret-value" not in str(errors)


def test_problem_response_is_rfc_9457() -> None:
    response = problem_response(404, "not-found", "Not found", "no site 1", instance="/v1/sites/1")
    assert response.media_type == PROBLEM_MEDIA_TYPE == "application/problem+json"
    assert orjson.loads(bytes(response.body)) == {
        "type": "urn:snp-dispatch:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": "no site 1",
        "instance": "/v1/sites/1",
    }


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (InvalidInput, 422, "invalid-input"),
        (Unauthenticated, 401, "unauthenticated"),
        (Forbidden, 403, "forbidden"),
        (NotFound, 404, "not-found"),
        (Conflict, 409, "conflict"),
        (IdempotencyKeyMissing, 400, "idempotency-key-missing"),
        (IdempotencyKeyReused, 422, "idempotency-key-reused"),
    ],
)
def test_each_kind_of_error_keeps_its_status_and_type(
    error: type[AppError], status: int, slug: str
) -> None:
    assert (error.status, error.slug) == (status, slug)
    raised = error("detail", location="body.x")
    assert raised.detail == "detail"
    assert raised.extensions == {"location": "body.x"}
