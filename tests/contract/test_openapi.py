"""The OpenAPI document is valid and tells the truth about errors, keys and shapes."""

from typing import Any

import pytest
from openapi_spec_validator import validate

from app.core.config import Settings
from app.main import create_app

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
OPEN = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    # SMART Scheduling Links: public by the spec's access advice (services/smart).
    ("get", "/smart/$bulk-publish"),
    ("get", "/smart/{departement}/Location.ndjson"),
    ("get", "/smart/{departement}/Schedule.ndjson"),
    ("get", "/smart/{departement}/Slot.ndjson"),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_every_error_answer_is_the_shared_problem(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"type", "title", "status", "detail"} <= set(schemas["Problem"]["required"])
    assert "errors" in schemas["Problem"]["properties"]
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert response["content"] == {
                    "application/problem+json": {"schema": PROBLEM_REF}
                }, (method, path, status)


def test_every_operation_needing_a_key_says_so(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "the client's API key",
    }
    for method, path, operation in operations(document):
        if (method, path) in OPEN:
            assert "security" not in operation
            continue
        assert operation["security"] == [{"bearer": []}], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/v1/bookings", {"400", "401", "403", "404", "409", "413", "422"}),
        ("post", "/v1/holds", {"404", "409", "413", "422"}),
        ("post", "/v1/dispatch", {"404", "413", "422"}),
        ("post", "/v1/territories", {"409", "413", "422"}),
        ("put", "/v1/communes/centroids", {"413", "415"}),
        ("patch", "/v1/sites/{site_id}", {"404", "413", "422"}),
        ("get", "/v1/audit-events", {"422"}),
    ],
)
def test_error_answers_are_documented_where_they_occur(
    document: dict[str, Any], method: str, path: str, statuses: set[str]
) -> None:
    assert statuses <= set(document["paths"][path][method]["responses"])


def test_idempotency_key_is_documented_and_required_on_bookings(
    document: dict[str, Any],
) -> None:
    def key_of(method: str, path: str) -> dict[str, Any]:
        parameters = document["paths"][path][method]["parameters"]
        return next(p for p in parameters if p["name"] == "Idempotency-Key")

    booking = key_of("post", "/v1/bookings")
    assert booking["required"] is True
    assert booking["in"] == "header"
    assert "anyOf" not in booking["schema"]
    assert key_of("put", "/v1/slots")["required"] is False
    assert key_of("post", "/v1/dispatch")["required"] is False


def test_slot_items_are_published(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    items = schemas["SlotBatch"]["properties"]["slots"]["items"]
    assert items == {"$ref": "#/components/schemas/SlotItem"}
    item = schemas["SlotItem"]
    assert {"external_id", "professional_rpps", "site_id", "start", "end", "modality"} <= set(
        item["required"]
    )
    assert item["properties"]["modality"]["enum"] == ["AMB", "HH", "VR"]


@pytest.mark.parametrize(
    ("schema", "field", "pattern"),
    [
        ("ProfessionalCreate", "rpps", "^[0-9]{11}$"),
        ("TerritoryCreate", "finess", "^([0-9]{2}|2[ABab])[0-9]{7}$"),
        ("SiteCreate", "insee_code", "^([0-9]{2}|2[ABab])[0-9]{3}$"),
        ("SiteCreate", "postcode", "^[0-9]{5}$"),
        ("TerritoryCreate", "departement", None),
        ("Patient", "phone", None),
        ("SiteCreate", "name", None),
    ],
)
def test_identifier_rules_are_patterns(
    document: dict[str, Any], schema: str, field: str, pattern: str | None
) -> None:
    published = document["components"]["schemas"][schema]["properties"][field]
    assert published["pattern"] == pattern if pattern else published["pattern"]


def test_languages_are_iso_codes(document: dict[str, Any]) -> None:
    languages = document["components"]["schemas"]["ProfessionalCreate"]["properties"]["languages"]
    assert languages["items"]["pattern"] == "^[a-z]{2,3}$"


@pytest.mark.parametrize(
    ("schema", "nullable"),
    [
        ("TerritoryUpdate", {"radius_km", "enlargement_km", "phone"}),
        ("ProfessionalUpdate", {"specialty"}),
        ("SiteUpdate", set()),
    ],
)
def test_patch_bodies_offer_null_only_where_it_is_taken(
    document: dict[str, Any], schema: str, nullable: set[str]
) -> None:
    properties = document["components"]["schemas"][schema]["properties"]
    offering_null = {
        name
        for name, field in properties.items()
        if any(s.get("type") == "null" for s in field.get("anyOf", []))
    }
    assert offering_null == nullable


@pytest.mark.parametrize(
    "schema", ["SlotBatch", "SearchQuery", "HoldCreate", "BookingCreate", "DispatchRequest"]
)
def test_main_operations_carry_examples(document: dict[str, Any], schema: str) -> None:
    assert document["components"]["schemas"][schema]["examples"]
