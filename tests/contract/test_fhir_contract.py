"""The /fhir routes, which the OpenAPI document leaves out (schemathesis.toml says why): every
other route is in the document, the CapabilityStatement lists what /fhir serves, and no
hostile input gets a 5xx or an answer other than FHIR JSON."""

import json
import random
import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from app.core.config import Settings
from app.main import create_app
from app.services.fhir import codes
from tests.conftest import MakeKey, bearer
from tests.contract.test_hostile_inputs import BODY_VALUES, URL_VALUES, raw_json
from tests.factories import create_territory
from tests.services.fhir.guide import validate

FHIR_OPERATIONS = {("GET", "/fhir/metadata"), ("GET", "/fhir/Slot"), ("POST", "/fhir/Practitioner"),
                   ("PUT", "/fhir/Practitioner")}  # fmt: skip
PS = "schedule.actor:Practitioner.identifier"
GOOD_QUERY = {
    "start": ["ge2030-06-12T16:20:00+02:00", "le2030-06-14T16:20:00+02:00"],
    PS: [f"{codes.OID_PS}|810002909371"],
    "status": ["free"],
    "_include": ["Slot:schedule", "Slot:service-type-reference"],
    "_include:iterate": ["Schedule:actor", "HealthcareService:organization"],
}
GOOD_BODY: dict[str, Any] = {
    "resourceType": "Practitioner",
    "meta": {"source": codes.OID_SAS},
    "identifier": [{"type": {"coding": [{"system": codes.V2_0203, "code": "INTRN"}]},
                    "system": codes.OID_SAS, "value": "b6e39355-8a61-4556-b340-36f7b95fec6a"}],
    "active": True,
    "name": [{"family": "Loridon", "given": ["Sébastien"]}],
    "telecom": [{"system": "email", "value": "s.loridon@test.com"}],
}  # fmt: skip


def _operations(routes: list[Any]) -> list[tuple[str, set[str]]]:
    """(path, methods) of every API route, those of included routers too (FastAPI keeps them
    behind an `_IncludedRouter` that lists its `effective_route_contexts`)."""
    found: list[tuple[str, set[str]]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((route.path, set(route.methods or ())))
        elif hasattr(route, "effective_route_contexts"):
            found += [(c.path, set(c.methods)) for c in route.effective_route_contexts()]
    return found


def test_every_route_but_fhir_is_in_the_openapi_document() -> None:
    app = create_app(Settings())
    documented = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    routes = {(method, path) for path, methods in _operations(app.routes) for method in methods}
    assert {r for r in routes if r[1].startswith("/fhir")} == FHIR_OPERATIONS
    assert not any(path.startswith("/fhir") for _, path in documented)
    # /metrics (Prometheus text) was left out of the document before /fhir came; the admin
    # pages (HTML for a browser session, not the API) are left out too.
    api = {r for r in routes if not r[1].startswith("/admin")}
    assert api - FHIR_OPERATIONS - {("GET", "/metrics")} <= documented


@pytest.fixture
async def sas(
    make_key: MakeKey, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> dict[str, str]:
    territory = await create_territory(client, admin_headers)
    key, _ = await make_key("sas_platform", [territory["id"]])
    return bearer(key)


async def test_the_capability_statement_lists_what_is_served(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    response = await client.get("/fhir/metadata", headers=sas)
    assert response.status_code == 200
    statement = response.json()
    validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["implementationGuide"] == [codes.IG_CANONICAL]
    served = {
        (r["type"], i["code"])
        for r in statement["rest"][0]["resource"]
        for i in r.get("interaction", [])
    }
    assert served == {("Slot", "search-type"), ("Practitioner", "create"),
                      ("Practitioner", "update")}  # fmt: skip
    (slot,) = [r for r in statement["rest"][0]["resource"] if r["type"] == "Slot"]
    assert set(slot["searchInclude"]) == {"Slot:schedule", "Slot:service-type-reference"}
    assert {p["name"] for p in slot["searchParam"]} == {"start", "schedule", "status"}
    assert "mutual TLS" in statement["rest"][0]["security"]["description"]
    assert (await client.get("/fhir/metadata")).status_code == 401


async def _fhir_answer(response: httpx.Response, what: object) -> None:
    assert response.status_code < 500, (what, response.text)
    assert response.headers["content-type"].startswith(codes.FHIR_JSON), (what, response.text)
    body = response.json()
    if response.status_code >= 400:
        validate(body)
        assert body["resourceType"] == "OperationOutcome"


def _hostile(value: Any, rng: random.Random) -> Any:
    """`value` with one leaf replaced by a hostile value (or a wrong type)."""
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        return {**value, key: _hostile(value[key], rng)}
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        return [*value[:i], _hostile(value[i], rng), *value[i + 1 :]]
    return rng.choice([*BODY_VALUES, None, [], {}, True, "", "x" * 10_000, {"a": [1]}])


async def test_no_hostile_slot_search_gets_a_5xx(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    for name in GOOD_QUERY:
        for bad in URL_VALUES + [
            "ge%00",
            "le2030-13-45",
            "%7C%7C%7C",
            ",,,",
            "ge+",
            "le" + "9" * 40,
        ]:
            others = "&".join(
                f"{k}={v}" for k, values in GOOD_QUERY.items() if k != name for v in values
            )
            url = f"/fhir/Slot?{others}&{name}={bad}"
            await _fhir_answer(await client.get(url, headers=sas), url)
    await _fhir_answer(await client.get("/fhir/Slot?%FF=1&start", headers=sas), "raw")


async def test_no_hostile_regulator_body_gets_a_5xx(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    rng = random.Random(12)  # noqa: S311 (reproducible fuzzing)
    headers = {**sas, "content-type": codes.FHIR_JSON}
    identifier = f"{codes.OID_SAS}|{uuid.uuid4()}"
    for case in range(300):
        body = _hostile(GOOD_BODY, rng)
        content = raw_json(body)
        if case % 2:
            response = await client.post("/fhir/Practitioner", content=content, headers=headers)
        else:
            response = await client.put(
                "/fhir/Practitioner", params={"identifier": identifier}, content=content,
                headers=headers,
            )  # fmt: skip
        await _fhir_answer(response, json.loads(content))
    for raw in (b"\xff\xfe", b"{" * 5000, b'{"resourceType": "Practitioner", "active": 1e999}'):
        response = await client.post("/fhir/Practitioner", content=raw, headers=headers)
        await _fhir_answer(response, raw[:20])
    for bad in URL_VALUES:
        response = await client.put(
            f"/fhir/Practitioner?identifier={bad}", content=raw_json(GOOD_BODY), headers=headers
        )
        await _fhir_answer(response, bad)
