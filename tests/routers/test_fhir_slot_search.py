"""GET /fhir/Slot: the certification kit's searches (INT_R01 and INT_R04) on seeded data.

Every answer is validated with the FHIR models and the guide's constraints (services/fhir/guide).
"""

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.fhir import codes
from tests.conftest import MakeKey
from tests.services.fhir.guide import check_bundle
from tests.services.fhir.world import FhirWorld, kit_time, national_id, soon

PS = "schedule.actor:Practitioner.identifier"
Params = list[tuple[str, str | int | float | bool | None]]


@pytest.fixture
def world(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    make_key: MakeKey,
) -> FhirWorld:
    return FhirWorld(client, admin_headers, session, make_key)


def ps_params(ids: str, start: str, end: str) -> Params:
    """The kit's INT_R01 search (setup_helper ig_launch_1): bounds with `.000+00:00`."""
    return [
        ("_include", "Slot:schedule"),
        ("_include:iterate", "Schedule:actor"),
        (PS, ids),
        ("start", f"ge{start}"),
        ("start", f"le{end}"),
        ("status", "free"),
    ]


def cpts_params(ids: str, start: str, end: str) -> Params:
    """The kit's INT_R04 search (ig_launch_2): bounds written without an offset."""
    return [
        ("_include", "Slot:schedule"),
        ("_include", "Slot:service-type-reference"),
        ("_include:iterate", "Schedule:actor"),
        ("_include:iterate", "HealthcareService:organization"),
        (PS, ids),
        ("start", f"ge{start}"),
        ("start", f"le{end}"),
        ("status", "free"),
    ]


def utc_kit(hours: float) -> str:
    return soon(hours).strftime("%Y-%m-%dT%H:%M:%S") + ".000+00:00"


def local_kit(hours: float) -> str:
    return kit_time(soon(hours)) + ".000"


async def search(
    client: httpx.AsyncClient, headers: dict[str, str], params: Params
) -> dict[str, list[dict[str, Any]]]:
    response = await client.get("/fhir/Slot", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(codes.FHIR_JSON)
    return check_bundle(response.json())


async def test_one_practitioner_one_place(world: FhirWorld, client: httpx.AsyncClient) -> None:
    territory = await world.territory()
    pro = await world.professional(family_name="Foret", given_name="Pierre")
    site = await world.site(territory, pro)
    first = await world.slot(pro, site, soon(2), labels=("PUBLIC", "SNP"))
    second = await world.slot(pro, site, soon(3), modality="VR")
    headers = await world.sas_headers()

    found = await search(client, headers, ps_params(national_id(pro), utc_kit(0), utc_kit(60)))

    assert [s["id"] for s in found["Slot"]] == [str(first), str(second)]
    assert [s["serviceType"][0]["coding"][0]["code"] for s in found["Slot"]] == ["AMB", "VR"]
    assert {s["code"] for s in found["Slot"][0]["meta"]["security"]} == {"PUBLIC", "SNP"}
    assert found["Slot"][0]["comment"] == "https://agenda.example/rdv/1"
    assert found["Slot"][0]["start"].endswith(("+01:00", "+02:00"))  # Nantes, Paris time
    (practitioner,) = found["Practitioner"]
    assert practitioner["identifier"][0]["value"] == "8" + pro["rpps"]
    assert practitioner["name"] == [{"family": "Foret", "given": ["Pierre"]}]
    assert len(found["Schedule"]) == 1
    assert len(found["PractitionerRole"]) == 1
    (location,) = found["PractitionerRole"][0]["contained"]
    assert location["address"] == {
        "use": "work",
        "type": "physical",
        "line": ["1 rue de la Paix"],
        "city": "Nantes",
        "postalCode": "44000",
    }
    assert "HealthcareService" not in found
    assert "Organization" not in found


async def test_one_practitioner_several_places_has_a_schedule_per_place(
    world: FhirWorld, client: httpx.AsyncClient
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    here = await world.site(territory, pro)
    there = await world.site(territory, pro, name="Cabinet 2", address="30 rue Mme Delmas")
    await world.slot(pro, here, soon(2))
    await world.slot(pro, there, soon(4))
    await world.slot(pro, there, soon(5))
    headers = await world.sas_headers()

    found = await search(client, headers, ps_params(national_id(pro), utc_kit(0), utc_kit(48)))

    assert len(found["Slot"]) == 3
    assert len(found["Practitioner"]) == 1
    assert len(found["Schedule"]) == 2
    assert len(found["PractitionerRole"]) == 2
    lines = sorted(r["contained"][0]["address"]["line"][0] for r in found["PractitionerRole"])
    assert lines == ["1 rue de la Paix", "30 rue Mme Delmas"]
    by_schedule = {s["schedule"]["reference"] for s in found["Slot"]}
    assert by_schedule == {f"Schedule/{s['id']}" for s in found["Schedule"]}


async def test_several_practitioners_comma_separated_or_repeated(
    world: FhirWorld, client: httpx.AsyncClient
) -> None:
    territory = await world.territory()
    pros = [await world.professional() for _ in range(3)]
    site = await world.site(territory, *pros)
    for i, pro in enumerate(pros):
        await world.slot(pro, site, soon(2 + i))
    unknown = f"{codes.OID_PS}|810000000000"
    headers = await world.sas_headers()
    # As in the guide's example: a space after a comma, an id nobody holds.
    ids = f"{national_id(pros[0])}, {national_id(pros[1])},{unknown}"
    found = await search(client, headers, ps_params(ids, utc_kit(0), utc_kit(48)))
    assert len(found["Slot"]) == 2
    assert len(found["Practitioner"]) == 2

    params = ps_params(national_id(pros[0]), utc_kit(0), utc_kit(48))
    params += [(PS, national_id(pros[1])), (PS, national_id(pros[2]))]
    found = await search(client, headers, params)
    assert len(found["Slot"]) == 3
    assert len(found["Practitioner"]) == 3


async def test_cpts_slots_carry_their_healthcare_service_and_organization(
    world: FhirWorld, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    territory = await world.territory(name="CPTS Axe Majeur", phone="01 02 03 04 05")
    pro = await world.professional()
    site = await world.site(territory, pro)
    cpts_slot = await world.slot(pro, site, soon(2), labels=("PUBLIC", "CPTS"))
    plain_slot = await world.slot(pro, site, soon(3), labels=("SNP",))
    headers = await world.sas_headers()

    response = await client.get(
        "/fhir/Slot",
        params=cpts_params(national_id(pro), local_kit(0), local_kit(48)),
        headers=headers,
    )
    bundle = response.json()
    found = check_bundle(bundle)

    assert bundle["meta"]["profile"] == [codes.PROFILE_BUNDLE_CPTS]
    assert {s["id"] for s in found["Slot"]} == {str(cpts_slot), str(plain_slot)}
    (service,) = found["HealthcareService"]
    (organization,) = found["Organization"]
    assert service["id"] == str(territory)
    assert service["providedBy"] == {"reference": f"Organization/{territory}"}
    finess = (await client.get(f"/v1/territories/{territory}", headers=admin_headers)).json()[
        "finess"
    ]
    assert organization["identifier"][0]["value"] == "1" + finess
    assert organization["name"] == "CPTS Axe Majeur"
    assert organization["telecom"] == [{"system": "phone", "value": "+33102030405", "use": "work"}]
    cpts = next(s for s in found["Slot"] if s["id"] == str(cpts_slot))
    assert cpts["serviceType"][1]["extension"][0]["valueReference"] == {
        "reference": f"HealthcareService/{territory}"
    }


async def test_a_practitioner_in_two_cpts_points_to_each(
    world: FhirWorld, client: httpx.AsyncClient
) -> None:
    north = await world.territory(name="CPTS Nord")
    south = await world.territory(name="CPTS Sud")
    pro = await world.professional()
    in_north = await world.site(north, pro)
    in_south = await world.site(south, pro, name="MSP Sud")
    await world.slot(pro, in_north, soon(2), labels=("CPTS",))
    await world.slot(pro, in_south, soon(3), labels=("CPTS", "SNP"))
    headers = await world.sas_headers(north, south)

    found = await search(
        client, headers, cpts_params(national_id(pro), local_kit(0), local_kit(48))
    )

    assert len(found["Practitioner"]) == 1
    assert len(found["PractitionerRole"]) == 2
    assert len(found["Schedule"]) == 2
    assert {s["id"] for s in found["HealthcareService"]} == {str(north), str(south)}
    assert {o["name"] for o in found["Organization"]} == {"CPTS Nord", "CPTS Sud"}
    # A SAS client of one CPTS sees that CPTS's slots only.
    found = await search(
        client,
        await world.sas_headers(north),
        cpts_params(national_id(pro), local_kit(0), local_kit(48)),
    )
    assert len(found["Slot"]) == 1
    assert found["HealthcareService"][0]["id"] == str(north)


async def test_only_free_offered_slots_in_the_window_are_returned(
    world: FhirWorld, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    territory = await world.territory()
    other = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, pro)
    elsewhere = await world.site(other, pro)
    free = await world.slot(pro, site, soon(2))
    lapsed = await world.slot(
        pro, site, soon(3), status="held", hold_expires_at=soon(0) - timedelta(minutes=5)
    )
    await world.slot(pro, site, soon(4), status="held", hold_expires_at=soon(1))  # live hold
    await world.slot(pro, site, soon(5), status="booked")
    await world.slot(pro, site, soon(6), status="cancelled")
    await world.slot(pro, site, soon(80))  # after the window
    await world.slot(pro, elsewhere, soon(7))  # not one of the SAS client's territories
    headers = await world.sas_headers(territory)

    found = await search(client, headers, ps_params(national_id(pro), utc_kit(0), utc_kit(72)))

    assert [s["id"] for s in found["Slot"]] == [str(free), str(lapsed)]


async def test_an_inactive_practitioner_offers_nothing(
    world: FhirWorld, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, pro)
    await world.slot(pro, site, soon(2))
    await client.delete(f"/v1/professionals/{pro['id']}", headers=admin_headers)
    headers = await world.sas_headers()
    response = await client.get(
        "/fhir/Slot", params=ps_params(national_id(pro), utc_kit(0), utc_kit(48)), headers=headers
    )
    bundle = response.json()
    check_bundle(bundle)
    assert bundle["total"] == 0
    assert "entry" not in bundle
    assert bundle["meta"]["profile"] == [codes.PROFILE_BUNDLE]


async def test_bounds_without_offset_are_read_in_the_territorys_zone(
    world: FhirWorld, client: httpx.AsyncClient
) -> None:
    territory = await world.territory(departement="972", timezone="America/Martinique")
    pro = await world.professional()
    site = await world.site(
        territory, pro, insee_code="97209", postcode="97200", lat=14.6, lon=-61.07
    )
    at = soon(30)
    slot = await world.slot(pro, site, at)
    headers = await world.sas_headers(territory)
    # Martinique is UTC-4: the slot's local time is 4 h before its UTC time.
    local = (at - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S")
    just_after = (at - timedelta(hours=4, minutes=-1)).strftime("%Y-%m-%dT%H:%M:%S")
    found = await search(client, headers, ps_params(national_id(pro), local, just_after))
    assert [s["id"] for s in found["Slot"]] == [str(slot)]
    assert found["Slot"][0]["start"].endswith("-04:00")
    # Read as UTC instead, the same digits miss it.
    found = await search(
        client, headers, ps_params(national_id(pro), local + "Z", just_after + "Z")
    )
    assert "Slot" not in found


async def test_an_unencoded_plus_of_an_offset_is_understood(
    world: FhirWorld, client: httpx.AsyncClient
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, pro)
    await world.slot(pro, site, soon(2))
    headers = await world.sas_headers()
    start, end = utc_kit(0), utc_kit(24)
    query = (
        f"_include=Slot:schedule&{quote(PS)}={quote(national_id(pro))}"
        f"&start=ge{start}&start=le{end}&status=free"  # `+00:00` sent raw, read as a space
    )
    response = await client.get(f"/fhir/Slot?{query}", headers=headers)
    assert response.status_code == 200, response.text
    found = check_bundle(response.json())
    assert len(found["Slot"]) == 1
    assert len(found["Schedule"]) == 1
    assert "Practitioner" not in found  # Schedule:actor was not asked


async def test_the_self_link_names_what_was_used(
    world: FhirWorld, client: httpx.AsyncClient
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    headers = await world.sas_headers(territory)
    params = [*ps_params(national_id(pro), utc_kit(0), utc_kit(24)), ("_count", "10")]
    response = await client.get("/fhir/Slot", params=params, headers=headers)
    link = response.json()["link"][0]["url"]
    assert link.startswith("http://test/fhir/Slot?start=ge")
    assert "_count" not in link
    assert "status=free" in link


async def test_the_legacy_media_type_is_answered_in_kind(
    world: FhirWorld, client: httpx.AsyncClient
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    headers = {**await world.sas_headers(territory), "Accept": codes.FHIR_JSON_LEGACY}
    response = await client.get(
        "/fhir/Slot", params=ps_params(national_id(pro), utc_kit(0), utc_kit(24)), headers=headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{codes.FHIR_JSON_LEGACY}; charset=utf-8"


def test_role_ids_are_stable_and_fit_fhir_ids() -> None:
    from app.services.fhir.resources import role_id

    a, b = uuid.uuid4(), uuid.uuid4()
    assert role_id(a, b) == role_id(a, b) != role_id(b, a)
    assert len(role_id(a, b)) == 32
