"""Refusals under /fhir are OperationOutcome with a 4xx; elsewhere still problem+json."""

from typing import Any

import httpx
import pytest

from app.services.fhir import codes
from tests.conftest import MakeKey, bearer
from tests.services.fhir.guide import outcome

PS = "schedule.actor:Practitioner.identifier"
Params = list[tuple[str, str | int | float | bool | None]]
ONE = f"{codes.OID_PS}|810002909371"
GE, LE = "ge2030-06-12T16:20:00+02:00", "le2030-06-14T16:20:00+02:00"


@pytest.fixture
async def sas(
    make_key: MakeKey, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> dict[str, str]:
    from tests.factories import create_territory

    territory = await create_territory(client, admin_headers)
    key, _ = await make_key("sas_platform", [territory["id"]])
    return bearer(key)


def base(**overrides: Any) -> Params:
    params = {"start": [GE, LE], PS: [ONE], "status": ["free"], **overrides}
    return [(k, v) for k, values in params.items() for v in values]


async def refused(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    params: Params,
    status: int = 400,
) -> dict[str, Any]:
    response = await client.get("/fhir/Slot", params=params, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(codes.FHIR_JSON)
    return outcome(response.json())


@pytest.mark.parametrize(
    "starts",
    [[], [GE], [LE], [GE, GE, LE], ["eq2030-06-12", LE], ["gt2030-06-12T10:00:00Z", LE]],
    ids=["none", "ge-only", "le-only", "two-ge", "eq", "gt"],
)
async def test_start_needs_one_ge_and_one_le(
    client: httpx.AsyncClient, sas: dict[str, str], starts: list[str]
) -> None:
    issue = await refused(client, sas, base(start=starts))
    assert issue["code"] == "invalid"
    assert issue["expression"] == ["start"]


@pytest.mark.parametrize(
    "starts",
    [
        ["ge2030-06-14T10:00:00Z", "le2030-06-12T10:00:00Z"],
        ["ge2030-02-30", "le2030-03-02"],
        ["geyesterday", LE],
        ["ge2030-06-12T10:00:00+25:00", LE],
        ["ge2030-01-01", "le2030-12-31"],
    ],
    ids=["reversed", "no-such-day", "not-a-date", "bad-offset", "too-long"],
)
async def test_bad_start_values_are_400(
    client: httpx.AsyncClient, sas: dict[str, str], starts: list[str]
) -> None:
    await refused(client, sas, base(start=starts))


async def test_more_than_25_practitioners_is_400(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    ids = ",".join(f"{codes.OID_PS}|8{10000000000 + i}" for i in range(26))
    issue = await refused(client, sas, base(**{PS: [ids]}))
    assert "26 practitioners" in issue["diagnostics"]
    ids25 = ",".join(f"{codes.OID_PS}|8{10000000000 + i}" for i in range(25))
    response = await client.get("/fhir/Slot", params=base(**{PS: [ids25]}), headers=sas)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {PS: []},
        {PS: ["urn:oid:1.2.250.1.71.4.2.2|1950047225"]},
        {"status": []},
        {"status": ["busy"]},
    ],
    ids=["no-practitioner", "wrong-system", "no-status", "busy"],
)
async def test_missing_or_wrong_required_parameters_are_400(
    client: httpx.AsyncClient, sas: dict[str, str], overrides: dict[str, list[str]]
) -> None:
    await refused(client, sas, base(**overrides))


async def test_unknown_parameters_are_ignored_unless_strict(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    params = [*base(), ("_count", "5"), ("_include", "Slot:*")]
    response = await client.get("/fhir/Slot", params=params, headers=sas)
    assert response.status_code == 200
    strict = {**sas, "Prefer": "handling=strict"}
    issue = await refused(client, strict, params)
    assert issue["expression"] == ["_count"]


async def test_a_format_other_than_json_is_406(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    await refused(client, sas, [*base(), ("_format", "xml")], 406)


async def test_keys_and_roles_are_checked_with_an_operation_outcome(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    issue = await refused(client, {}, base(), 401)
    assert issue["code"] == "login"
    key, _ = await make_key("admin")
    issue = await refused(client, bearer(key), base(), 403)
    assert issue["code"] == "forbidden"


async def test_unknown_fhir_paths_and_methods_answer_an_operation_outcome(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    response = await client.get("/fhir/Patient", headers=sas)
    assert response.status_code == 404
    assert outcome(response.json())["code"] == "not-found"
    response = await client.delete("/fhir/Slot", headers=sas)
    assert response.status_code == 405
    assert outcome(response.json())["code"] == "not-supported"
    assert "GET" in response.headers["allow"]


async def test_errors_outside_fhir_stay_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/territories")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    response = await client.get("/fhirish")
    assert response.headers["content-type"] == "application/problem+json"
