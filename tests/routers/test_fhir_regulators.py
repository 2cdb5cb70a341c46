"""POST /fhir/Practitioner and PUT /fhir/Practitioner?identifier=…: the kit's regulator account
flows (INT_R02), with its bad inputs, on regulator API clients."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.fhir import codes
from tests.conftest import MakeKey, bearer
from tests.factories import create_territory
from tests.services.fhir.guide import outcome, validate

FHIR = {"content-type": "application/fhir+json"}


def regulator_body(
    value: str,
    email: str,
    system: str = codes.OID_SAS,
    active: bool = True,
    given: str = "Sébastien",
    family: str = "Loridon",
) -> dict[str, Any]:
    """As the kit's HelperFLuxv1.build_regulateur_body writes it."""
    return {
        "resourceType": "Practitioner",
        "id": "kit-resource-id",
        "meta": {"source": codes.OID_SAS, "profile": [codes.PROFILE_PRACTITIONER_REGUL]},
        "identifier": [
            {
                "type": {
                    "coding": [
                        {
                            "system": codes.V2_0203,
                            "code": "IDNPS" if system == codes.OID_PS else "INTRN",
                        }
                    ]
                },
                "system": system,
                "value": value,
            }
        ],
        "active": active,
        "name": [{"family": family, "given": [given]}],
        "telecom": [{"system": "email", "value": email}],
    }


@pytest.fixture
async def territory_id(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> str:
    return str((await create_territory(client, admin_headers))["id"])


@pytest.fixture
async def sas(make_key: MakeKey, territory_id: str) -> dict[str, str]:
    key, _ = await make_key("sas_platform", [territory_id])
    return {**bearer(key), **FHIR}


async def post(client: httpx.AsyncClient, sas: dict[str, str], body: Any) -> httpx.Response:
    return await client.post("/fhir/Practitioner", json=body, headers=sas)


async def put(
    client: httpx.AsyncClient, sas: dict[str, str], identifier: str, body: Any
) -> httpx.Response:
    return await client.put(
        "/fhir/Practitioner", params={"identifier": identifier}, json=body, headers=sas
    )


def practitioner(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    validate(body)
    assert body["meta"]["source"] == codes.OID_SAS
    assert response.headers["location"].endswith(f"/fhir/Practitioner/{body['id']}")
    return body


async def client_row(session: AsyncSession, client_id: str) -> Any:
    return (
        await session.execute(
            text(
                """SELECT c.role, c.active, c.name, r.national_id, r.technical_id, r.email,
                          ARRAY(SELECT territory_id::text FROM api_client_territories
                                WHERE client_id = c.id) AS territories
                   FROM api_clients c JOIN sas_regulators r ON r.client_id = c.id
                   WHERE c.id = :id"""
            ),
            {"id": client_id},
        )
    ).one()


async def test_creating_with_a_national_id_makes_a_regulator_client(
    client: httpx.AsyncClient, sas: dict[str, str], session: AsyncSession, territory_id: str
) -> None:
    response = await post(
        client, sas, regulator_body("3456780581/11242343", "s.loridon@test.com", codes.OID_PS)
    )
    assert response.status_code == 201, response.text
    created = practitioner(response)
    assert created["identifier"][0]["system"] == codes.OID_PS
    assert created["identifier"][0]["value"] == "3456780581/11242343"
    assert created["active"] is True
    assert created["name"] == [{"family": "Loridon", "given": ["Sébastien"]}]
    assert "api_key" not in response.text
    row = await client_row(session, created["id"])
    assert (row.role, row.active, row.national_id, row.email) == (
        "regulator",
        True,
        "3456780581/11242343",
        "s.loridon@test.com",
    )
    assert row.territories == [territory_id]


async def test_creating_with_a_sas_technical_id(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    uid = str(uuid.uuid4())
    response = await post(client, sas, regulator_body(uid, f"{uid}@test.com"))
    assert response.status_code == 201
    identifier = practitioner(response)["identifier"][0]
    assert identifier["system"] == codes.OID_SAS
    assert identifier["type"]["coding"][0]["code"] == "INTRN"


async def test_a_second_creation_of_the_same_regulator_is_refused(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    uid = str(uuid.uuid4())
    body = regulator_body(uid, f"{uid}@test.com")
    assert (await post(client, sas, body)).status_code == 201
    response = await post(client, sas, body)
    assert response.status_code == 422
    assert outcome(response.json())["code"] == "duplicate"


def _without(key: str) -> dict[str, Any]:
    body = regulator_body(str(uuid.uuid4()), "jean.dupont@example.com", codes.OID_PS)
    del body[key]
    return body


def _changed(path: tuple[Any, ...], value: Any, system: str = codes.OID_PS) -> dict[str, Any]:
    body = regulator_body(str(uuid.uuid4()), "claire.dubois@example.com", system)
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


MISSING = {
    "no-identifier": _without("identifier"),
    "no-name": _without("name"),
    "no-telecom": _without("telecom"),
    "no-active": _without("active"),
}
INVALID = {
    "empty-family": _changed(("name", 0, "family"), ""),
    "empty-mail": _changed(("telecom", 0, "value"), ""),
    "telecom-not-email": _changed(("telecom", 0, "system"), "phone"),
    "intrn-with-national-system": _changed(("identifier", 0, "type", "coding", 0, "code"), "INTRN"),
    "idnps-with-sas-system": _changed(
        ("identifier", 0, "type", "coding", 0, "code"), "IDNPS", codes.OID_SAS
    ),
    "unknown-system": _changed(("identifier", 0, "system"), "urn:oid:1.2.3"),
    "not-an-email": _changed(("telecom", 0, "value"), "claire at example"),
    "active-as-text": _changed(("active",), "true"),
    "other-source": _changed(("meta", "source"), "urn:oid:9.9.9"),
}


@pytest.mark.parametrize("body", [*MISSING.values(), *INVALID.values()], ids=[*MISSING, *INVALID])
async def test_a_create_with_missing_or_invalid_fields_is_422(
    client: httpx.AsyncClient, sas: dict[str, str], session: AsyncSession, body: dict[str, Any]
) -> None:
    before = await session.scalar(text("SELECT count(*) FROM sas_regulators"))
    response = await post(client, sas, body)
    assert response.status_code == 422, response.text
    outcome(response.json())
    assert await session.scalar(text("SELECT count(*) FROM sas_regulators")) == before


@pytest.mark.parametrize("body", MISSING.values(), ids=MISSING)
async def test_a_put_as_create_with_missing_fields_is_422(
    client: httpx.AsyncClient, sas: dict[str, str], body: dict[str, Any]
) -> None:
    response = await put(client, sas, f"{codes.OID_SAS}|{uuid.uuid4()}", body)
    assert response.status_code == 422
    outcome(response.json())


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/fhir+json", 400),
        (b'{"resourceType": "Patient"}', "application/fhir+json", 400),
        (b"[]", "application/json", 400),
        (b'{"resourceType": "Practitioner"}', "text/plain", 415),
    ],
    ids=["not-json", "not-a-practitioner", "an-array", "text-plain"],
)
async def test_a_body_that_is_no_practitioner_is_refused(
    client: httpx.AsyncClient, sas: dict[str, str], body: bytes, content_type: str, status: int
) -> None:
    headers = {**sas, "content-type": content_type}
    response = await client.post("/fhir/Practitioner", content=body, headers=headers)
    assert response.status_code == status
    outcome(response.json())


async def test_updates_by_national_id_change_the_account(
    client: httpx.AsyncClient, sas: dict[str, str], session: AsyncSession
) -> None:
    national = f"8{uuid.uuid4().int % 10**11:011d}"
    created = practitioner(
        await post(client, sas, regulator_body(national, "a@test.com", codes.OID_PS))
    )
    identifier = f"{codes.OID_PS}|{national}"
    changed = regulator_body(national, "b@test.com", codes.OID_PS, given="Jules", family="Marius")
    response = await put(client, sas, identifier, changed)
    assert response.status_code == 200
    updated = practitioner(response)
    assert updated["id"] == created["id"]
    assert updated["name"] == [{"family": "Marius", "given": ["Jules"]}]
    assert updated["telecom"] == [{"system": "email", "value": "b@test.com"}]
    row = await client_row(session, created["id"])
    assert row.email == "b@test.com"


async def test_deactivation_refuses_the_regulators_key_and_reactivation_restores_it(
    client: httpx.AsyncClient, sas: dict[str, str], admin_headers: dict[str, str]
) -> None:
    uid = str(uuid.uuid4())
    created = practitioner(await post(client, sas, regulator_body(uid, f"{uid}@test.com")))
    # INT_R02 hands out no key; an admin who lets the regulator call /v1 issues one.
    rotated = await client.post(
        f"/v1/clients/{created['id']}/rotate-key", json={}, headers=admin_headers
    )
    assert rotated.status_code == 200, rotated.text
    regulator = bearer(rotated.json()["api_key"])

    async def search() -> int:
        body = {"location": {"lat": 47.2184, "lon": -1.5536}}
        return (await client.post("/v1/searches", json=body, headers=regulator)).status_code

    assert await search() == 200

    off = await put(
        client, sas, f"{codes.OID_SAS}|{uid}", regulator_body(uid, "x@t.fr", active=False)
    )
    assert off.status_code == 200
    assert practitioner(off)["active"] is False
    assert await search() == 401

    on = await put(client, sas, f"{codes.OID_SAS}|{uid}", regulator_body(uid, "x@t.fr"))
    assert practitioner(on)["active"] is True
    assert await search() == 200


async def test_an_admin_revocation_is_not_undone_by_the_sas(
    client: httpx.AsyncClient, sas: dict[str, str], admin_headers: dict[str, str]
) -> None:
    uid = str(uuid.uuid4())
    created = practitioner(await post(client, sas, regulator_body(uid, f"{uid}@test.com")))
    revoked = await client.delete(f"/v1/clients/{created['id']}", headers=admin_headers)
    assert revoked.status_code == 204
    response = await put(client, sas, f"{codes.OID_SAS}|{uid}", regulator_body(uid, "x@t.fr"))
    assert response.status_code == 422
    outcome(response.json())


async def test_a_put_on_an_unknown_identifier_creates_the_account(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    uid = str(uuid.uuid4())
    response = await put(client, sas, f"{codes.OID_SAS}|{uid}", regulator_body(uid, "n@test.com"))
    assert response.status_code == 201
    again = await put(client, sas, f"{codes.OID_SAS}|{uid}", regulator_body(uid, "n@test.com"))
    assert again.status_code == 200
    assert practitioner(again)["id"] == practitioner(response)["id"]


async def test_an_idnps_moves_from_a_deactivated_account_to_its_successor(
    client: httpx.AsyncClient, sas: dict[str, str], session: AsyncSession
) -> None:
    """The kit's IdnpsSwitchAccountTest: deactivate, create with a new UUID, attach the IDNPS."""
    national = f"8{uuid.uuid4().int % 10**11:011d}"
    first = practitioner(await post(client, sas, regulator_body(national, "o@t.fr", codes.OID_PS)))
    off = regulator_body(national, "o@t.fr", codes.OID_PS, active=False)
    assert (await put(client, sas, f"{codes.OID_PS}|{national}", off)).status_code == 200
    uid = str(uuid.uuid4())
    second = practitioner(await post(client, sas, regulator_body(uid, f"{uid}.o@t.fr")))
    attach = regulator_body(national, f"{uid}.o@t.fr", codes.OID_PS)
    response = await put(client, sas, f"{codes.OID_SAS}|{uid}", attach)
    assert response.status_code == 200
    moved = practitioner(response)
    assert moved["id"] == second["id"]
    assert {i["system"]: i["value"] for i in moved["identifier"]} == {
        codes.OID_PS: national,
        codes.OID_SAS: uid,
    }
    assert (await client_row(session, first["id"])).national_id is None


async def test_an_identifier_of_an_active_account_cannot_be_taken(
    client: httpx.AsyncClient, sas: dict[str, str]
) -> None:
    national = f"8{uuid.uuid4().int % 10**11:011d}"
    await post(client, sas, regulator_body(national, "a@t.fr", codes.OID_PS))
    uid = str(uuid.uuid4())
    await post(client, sas, regulator_body(uid, "b@t.fr"))
    response = await put(
        client, sas, f"{codes.OID_SAS}|{uid}", regulator_body(national, "b@t.fr", codes.OID_PS)
    )
    assert response.status_code == 422
    assert outcome(response.json())["code"] == "duplicate"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"identifier": "nosystem"},
        {"identifier": "urn:oid:1.2.3|x"},
        {"identifier": f"{codes.OID_SAS}|"},
    ],
    ids=["missing", "no-system", "unknown-system", "empty-value"],
)
async def test_a_put_without_a_usable_identifier_is_400(
    client: httpx.AsyncClient, sas: dict[str, str], params: dict[str, str]
) -> None:
    body = regulator_body(str(uuid.uuid4()), "a@t.fr")
    response = await client.put("/fhir/Practitioner", params=params, json=body, headers=sas)
    assert response.status_code == 400
    assert outcome(response.json())["expression"] == ["identifier"]


async def test_only_the_sas_platform_manages_regulator_accounts(
    client: httpx.AsyncClient, make_key: MakeKey, territory_id: str
) -> None:
    key, _ = await make_key("regulator", [territory_id])
    response = await client.post(
        "/fhir/Practitioner",
        json=regulator_body(str(uuid.uuid4()), "a@t.fr"),
        headers={**bearer(key), **FHIR},
    )
    assert response.status_code == 403
    assert outcome(response.json())["code"] == "forbidden"


async def test_the_audit_trail_names_no_regulator(
    client: httpx.AsyncClient, sas: dict[str, str], admin_headers: dict[str, str]
) -> None:
    uid = str(uuid.uuid4())
    created = practitioner(
        await post(client, sas, regulator_body(uid, "secret.person@t.fr", family="Zyxwvu"))
    )
    response = await client.get(
        "/v1/audit-events", params={"resource_id": created["id"]}, headers=admin_headers
    )
    events = [e for e in response.json()["items"] if e["resource_id"] == created["id"]]
    assert "sas_regulator.create" in {e["action"] for e in events}
    assert "Zyxwvu" not in str(events)
    assert "secret.person" not in str(events)
