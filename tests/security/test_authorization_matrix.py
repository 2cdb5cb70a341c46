"""Every route × every caller: the status each one gets, from a table checked against the app.

The table (`ACCESS`) names, for every operation of the app, the roles that may call it. The
route list is read from the app itself, so a new route without a row fails
`test_every_route_has_a_row`, and a row for a route that is gone fails it too. For each route
and each caller (no key, a revoked key, each role), the status is asserted: 401 without a valid
key, 403 for a role the table does not name, and for a named role neither of those nor a 5xx
(the request carries placeholder ids and an empty body: a 404 or 422 says the role got past
the gate). The second half checks the object rules: what a regulator, a practice software or a
client of another territory gets when it names a booking, hold, slot or request that is not its
own.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from tests.dispatch_factories import (
    World,
    add_professional,
    add_slots,
    headers,
    make_world,
    new_client,
)

ROLES = ("admin", "regulator", "practice_software", "sas_platform")
PUBLIC = frozenset({"anyone"})
ADMIN = frozenset({"admin"})
REGULATOR = frozenset({"regulator"})
PRACTICE = frozenset({"practice_software"})
SAS = frozenset({"sas_platform"})
# An admin page: an admin-page session (a login, not an API key) and, to post, its CSRF token.
SESSION = frozenset({"admin page session"})

# Who may call what: one row per operation of the app (method and path as routed).
ACCESS: dict[str, frozenset[str]] = {
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,
    # SMART Scheduling Links: open to aggregators, no key (public, non-confidential data).
    "GET /smart/$bulk-publish": PUBLIC,
    "GET /smart/{departement}/Location.ndjson": PUBLIC,
    "GET /smart/{departement}/Schedule.ndjson": PUBLIC,
    "GET /smart/{departement}/Slot.ndjson": PUBLIC,
    "POST /v1/territories": ADMIN,
    "GET /v1/territories": ADMIN,
    "GET /v1/territories/{territory_id}": ADMIN,
    "PATCH /v1/territories/{territory_id}": ADMIN,
    "POST /v1/professionals": ADMIN,
    "GET /v1/professionals": ADMIN,
    "GET /v1/professionals/{professional_id}": ADMIN,
    "PATCH /v1/professionals/{professional_id}": ADMIN,
    "DELETE /v1/professionals/{professional_id}": ADMIN,
    "POST /v1/sites": ADMIN,
    "GET /v1/sites": ADMIN,
    "GET /v1/sites/{site_id}": ADMIN,
    "PATCH /v1/sites/{site_id}": ADMIN,
    "DELETE /v1/sites/{site_id}": ADMIN,
    "POST /v1/clients": ADMIN,
    "GET /v1/clients": ADMIN,
    "GET /v1/clients/{client_id}": ADMIN,
    "DELETE /v1/clients/{client_id}": ADMIN,
    "POST /v1/clients/{client_id}/rotate-key": ADMIN,
    "POST /v1/clients/{client_id}/transfer-slots": ADMIN,
    "POST /v1/clients/{client_id}/webhook-secret": ADMIN,
    "GET /v1/clients/{client_id}/deliveries": ADMIN,
    "POST /v1/clients/{client_id}/webhook/enable": ADMIN,
    "POST /v1/deliveries/{delivery_id}/replay": ADMIN,
    "GET /v1/events": frozenset(ROLES),
    "GET /v1/indicators": ADMIN,
    "GET /v1/audit-events": ADMIN,
    "PUT /v1/communes/centroids": ADMIN,
    "POST /v1/searches": REGULATOR,
    "PUT /v1/slots": PRACTICE,
    "POST /v1/slots/sync": PRACTICE,
    "GET /v1/slots": PRACTICE,
    "DELETE /v1/slots/{external_id}": PRACTICE,
    "POST /v1/holds": REGULATOR,
    "POST /v1/holds/{hold_id}/renew": REGULATOR,
    "DELETE /v1/holds/{hold_id}": REGULATOR,
    "POST /v1/bookings": REGULATOR,
    "GET /v1/bookings/{booking_id}": frozenset({"regulator", "practice_software"}),
    "POST /v1/bookings/{booking_id}/cancel": REGULATOR,
    "PATCH /v1/bookings/{booking_id}": PRACTICE,
    "POST /v1/dispatch": REGULATOR,
    "POST /v1/watches": REGULATOR,
    "GET /v1/watches/{watch_id}/events": REGULATOR,
    "DELETE /v1/watches/{watch_id}": REGULATOR,
    "POST /v1/requests": REGULATOR,
    "GET /v1/requests/{request_id}": frozenset({"regulator", "practice_software", "admin"}),
    "POST /v1/requests/{request_id}/accept": frozenset({"practice_software", "admin"}),
    # FHIR for the national SAS platform (refusals are OperationOutcomes there).
    "GET /fhir/metadata": SAS,
    "GET /fhir/Slot": SAS,
    "POST /fhir/Practitioner": SAS,
    "PUT /fhir/Practitioner": SAS,
    # The admin pages (tests/admin for what a session may do there).
    "GET /admin/login": PUBLIC,
    "POST /admin/login": SESSION,  # needs the CSRF token of the login page: 403 without
    "POST /admin/logout": SESSION,
    "GET /admin": SESSION,
    "GET /admin/clients": SESSION,
    "GET /admin/clients/nouveau": SESSION,
    "POST /admin/clients/nouveau": SESSION,
    "GET /admin/clients/{client_id}": SESSION,
    "POST /admin/clients/{client_id}/nouvelle-cle": SESSION,
    "POST /admin/clients/{client_id}/revoquer": SESSION,
    "POST /admin/clients/{client_id}/nouveau-secret": SESSION,
    "POST /admin/clients/{client_id}/livraisons/{delivery_id}/rejouer": SESSION,
    "POST /admin/clients/{client_id}/webhook/reactiver": SESSION,
    "GET /admin/creneaux": SESSION,
    "GET /admin/demandes": SESSION,
    "GET /admin/demandes/{request_id}": SESSION,
    "GET /admin/journal": SESSION,
    "GET /admin/indicateurs": SESSION,
    "GET /admin/indicateurs.csv": SESSION,
    "GET /admin/lieux": SESSION,
    "GET /admin/lieux/nouveau": SESSION,
    "POST /admin/lieux/nouveau": SESSION,
    "GET /admin/lieux/{site_id}": SESSION,
    "POST /admin/lieux/{site_id}": SESSION,
    "POST /admin/lieux/{site_id}/desactiver": SESSION,
    "GET /admin/parametres": SESSION,
    "POST /admin/parametres": SESSION,
    "GET /admin/professionnels": SESSION,
    "GET /admin/professionnels/nouveau": SESSION,
    "POST /admin/professionnels/nouveau": SESSION,
    "GET /admin/professionnels/{professional_id}": SESSION,
    "POST /admin/professionnels/{professional_id}": SESSION,
    "POST /admin/professionnels/{professional_id}/desactiver": SESSION,
    "GET /admin/territoires": SESSION,
}


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every API route of the app with its full path, through included routers (the docs pages
    are not ours)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):
            inner = prefix + (getattr(route.include_context, "prefix", "") or "")
            yield from _routes(route.original_router.routes, inner)
        elif hasattr(route, "routes"):
            yield from _routes(route.routes, prefix)


def operations(app: FastAPI) -> set[str]:
    return {
        f"{method} {path}"
        for path, route in _routes(app.router.routes)
        for method in route.methods or ()
        if method != "HEAD"
    }


def test_every_route_has_a_row() -> None:
    routed = operations(create_app())
    assert routed - ACCESS.keys() == set(), "routes without a row in ACCESS"
    assert ACCESS.keys() - routed == set(), "rows of ACCESS for routes that do not exist"


def _placeholder_path(path: str) -> str:
    """The path with every parameter filled with an id that names nothing."""
    out, rest = "", path
    while "{" in rest:
        before, _, after = rest.partition("{")
        _, _, rest = after.partition("}")
        out += before + str(uuid.uuid4())
    return out + rest


CALLERS = ("no key", "revoked key", *ROLES)


@pytest.fixture
async def keys(session: AsyncSession, client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """Headers of one client of each role, plus a revoked key and none."""
    world = await make_world(session)
    out: dict[str, dict[str, str]] = {
        "no key": {},
        "regulator": headers(world.regulator_key),
        "practice_software": headers(world.source_key),
    }
    for role in ("admin", "sas_platform"):
        _, key = await new_client(session, role, territory_ids=[world.territory_id])
        out[role] = headers(key)
    revoked_id, revoked_key = await new_client(session, "admin")
    await session.execute(
        text("UPDATE api_clients SET active = false WHERE id = :id"), {"id": revoked_id}
    )
    out["revoked key"] = headers(revoked_key)
    return out


def _expected(operation: str, caller: str) -> str:
    allowed = ACCESS[operation]
    if allowed == PUBLIC:
        return "through"
    if allowed == SESSION:  # no caller here has a session: API keys open no admin page
        return "to login"
    if caller in ("no key", "revoked key"):
        return "401"
    return "through" if caller in allowed else "403"


@pytest.mark.parametrize("operation", sorted(ACCESS))
async def test_each_caller_gets_the_status_of_the_table(
    client: httpx.AsyncClient, keys: dict[str, dict[str, str]], operation: str
) -> None:
    method, path = operation.split(" ", 1)
    seen: dict[str, int] = {}
    for caller in CALLERS:
        body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
        response = await client.request(
            method,
            _placeholder_path(path),
            json=body,
            headers={**keys[caller], "Idempotency-Key": f"matrix-{uuid.uuid4()}"},
        )
        seen[caller] = response.status_code
        expected = _expected(operation, caller)
        if expected == "to login":
            refused = response.status_code == 403 or (
                response.status_code in (302, 303)
                and response.headers["location"].startswith("/admin/login")
            )
            assert refused, (caller, response.status_code, response.headers)
        elif expected == "through":
            assert response.status_code not in (401, 403), (caller, response.text)
            assert response.status_code < 500, (caller, response.text)
        else:
            assert response.status_code == int(expected), (caller, seen, response.text)
            media = (
                "application/fhir+json" if path.startswith("/fhir") else "application/problem+json"
            )
            assert response.headers["content-type"].startswith(media), response.headers


# The object rules: who else than the owners names an object and what it gets.


@dataclass
class Scene:
    home: World
    away: World  # another territory, its own practice software and regulator
    colleague_key: str  # another regulator of the home territory
    neighbour_key: str  # another practice software of the home territory
    booking_id: str
    hold_id: str
    held_slot_external_id: str
    free_slot_external_id: str
    request_id: str


async def _external_id(session: AsyncSession, slot_id: uuid.UUID) -> str:
    value: str = (
        await session.execute(text("SELECT external_id FROM slots WHERE id = :id"), {"id": slot_id})
    ).scalar_one()
    return value


@pytest.fixture
async def scene(session: AsyncSession, client: httpx.AsyncClient) -> Scene:
    home = await make_world(session, accepts_en_sus=True)
    away = await make_world(session, lat=45.76, lon=4.84)
    slots = await add_slots(session, home, 3, start=datetime.now(UTC) + timedelta(hours=2))
    _, colleague_key = await new_client(session, "regulator", territory_ids=[home.territory_id])
    other_professional = await add_professional(session, home.site_id)
    _, neighbour_key = await new_client(
        session, "practice_software", professional_ids=[other_professional]
    )
    regulator = headers(home.regulator_key)

    async def hold(slot_id: uuid.UUID) -> str:
        response = await client.post("/v1/holds", json={"slot_id": str(slot_id)}, headers=regulator)
        assert response.status_code == 201, response.text
        hold_id: str = response.json()["id"]
        return hold_id

    booked_hold = await hold(slots[0])
    booked = await client.post(
        "/v1/bookings",
        json={
            "hold_id": booked_hold,
            "patient": {
                "family_name": "Durand",
                "given_name": "Léa",
                "birth_date": "1990-01-02",
                "phone": "+33612345678",
            },
        },
        headers={**regulator, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert booked.status_code == 201, booked.text
    live_hold = await hold(slots[1])
    request = await client.post(
        "/v1/requests",
        json={"location": {"lat": home.lat, "lon": home.lon}, "reason": "otite"},
        headers=regulator,
    )
    assert request.status_code == 201, request.text
    return Scene(
        home=home,
        away=away,
        colleague_key=colleague_key,
        neighbour_key=neighbour_key,
        booking_id=booked.json()["id"],
        hold_id=live_hold,
        held_slot_external_id=await _external_id(session, slots[1]),
        free_slot_external_id=await _external_id(session, slots[2]),
        request_id=request.json()["id"],
    )


def _who(scene: Scene, caller: str) -> str:
    return {
        "owner regulator": scene.home.regulator_key,
        "owner practice": scene.home.source_key,
        "colleague regulator": scene.colleague_key,
        "neighbour practice": scene.neighbour_key,
        "away regulator": scene.away.regulator_key,
        "away practice": scene.away.source_key,
    }[caller]


OUTSIDERS = ("colleague regulator", "away regulator")
OUTSIDE_PRACTICES = ("neighbour practice", "away practice")


async def _call(
    client: httpx.AsyncClient, scene: Scene, caller: str, method: str, path: str, body: Any = None
) -> httpx.Response:
    return await client.request(
        method,
        path,
        json=body,
        headers={**headers(_who(scene, caller)), "Idempotency-Key": str(uuid.uuid4())},
    )


@pytest.mark.parametrize("caller", [*OUTSIDERS, *OUTSIDE_PRACTICES])
async def test_a_booking_is_invisible_to_all_but_its_regulator_and_its_practice(
    client: httpx.AsyncClient, scene: Scene, caller: str
) -> None:
    response = await _call(client, scene, caller, "GET", f"/v1/bookings/{scene.booking_id}")
    assert response.status_code == 404, response.text
    assert "Durand" not in response.text


@pytest.mark.parametrize("caller", ["owner regulator", "owner practice"])
async def test_the_booking_owners_read_it(
    client: httpx.AsyncClient, scene: Scene, caller: str
) -> None:
    response = await _call(client, scene, caller, "GET", f"/v1/bookings/{scene.booking_id}")
    assert response.status_code == 200, response.text
    assert response.json()["patient"]["family_name"] == "Durand"


@pytest.mark.parametrize("caller", OUTSIDERS)
async def test_another_regulator_cannot_cancel_release_or_renew(
    client: httpx.AsyncClient, scene: Scene, caller: str
) -> None:
    cancel = await _call(client, scene, caller, "POST", f"/v1/bookings/{scene.booking_id}/cancel")
    release = await _call(client, scene, caller, "DELETE", f"/v1/holds/{scene.hold_id}")
    renew = await _call(client, scene, caller, "POST", f"/v1/holds/{scene.hold_id}/renew", {})
    assert [cancel.status_code, release.status_code, renew.status_code] == [404, 404, 404]
    still = await _call(client, scene, "owner regulator", "GET", f"/v1/bookings/{scene.booking_id}")
    assert still.json()["status"] == "booked"


@pytest.mark.parametrize("caller", OUTSIDE_PRACTICES)
async def test_another_practice_cannot_report_on_the_booking_nor_touch_the_slots(
    client: httpx.AsyncClient, scene: Scene, caller: str
) -> None:
    report = await _call(
        client, scene, caller, "PATCH", f"/v1/bookings/{scene.booking_id}", {"status": "noshow"}
    )
    assert report.status_code == 404, report.text
    delete = await _call(
        client, scene, caller, "DELETE", f"/v1/slots/{scene.free_slot_external_id}"
    )
    assert delete.status_code == 404, delete.text
    listed = await _call(client, scene, caller, "GET", "/v1/slots")
    assert listed.status_code == 200
    externals = {s["external_id"] for s in listed.json()["items"]}
    assert scene.free_slot_external_id not in externals
    assert scene.held_slot_external_id not in externals


async def test_a_regulator_of_another_territory_finds_none_of_its_slots(
    client: httpx.AsyncClient, scene: Scene
) -> None:
    body = {"location": {"lat": scene.home.lat, "lon": scene.home.lon}}
    away = await _call(client, scene, "away regulator", "POST", "/v1/searches", body)
    home = await _call(client, scene, "owner regulator", "POST", "/v1/searches", body)
    assert away.status_code == 200, away.text
    assert home.status_code == 200, home.text
    assert home.json()["candidates"], "the home regulator should find the free slot"
    home_sites = {str(scene.home.site_id)}
    assert not [c for c in away.json()["candidates"] if c["site"]["id"] in home_sites]


async def test_a_regulator_of_another_territory_cannot_hold_its_slot(
    client: httpx.AsyncClient, scene: Scene, session: AsyncSession
) -> None:
    slot_id = (
        await session.execute(
            text("SELECT id FROM slots WHERE external_id = :e"),
            {"e": scene.free_slot_external_id},
        )
    ).scalar_one()
    response = await _call(
        client, scene, "away regulator", "POST", "/v1/holds", {"slot_id": str(slot_id)}
    )
    assert response.status_code in (404, 409), response.text
    status = (
        await session.execute(text("SELECT status FROM slots WHERE id = :id"), {"id": slot_id})
    ).scalar_one()
    assert status == "free"


@pytest.mark.parametrize("caller", ["away regulator", "away practice"])
async def test_an_en_sus_request_of_another_territory_is_not_theirs(
    client: httpx.AsyncClient, scene: Scene, caller: str
) -> None:
    read = await _call(client, scene, caller, "GET", f"/v1/requests/{scene.request_id}")
    theirs = {"professional_id": str(scene.away.professional_ids[0])}
    accept = await _call(
        client, scene, caller, "POST", f"/v1/requests/{scene.request_id}/accept", theirs
    )
    assert read.status_code == 404, read.text
    assert accept.status_code in (403, 404), accept.text
    mine = await _call(client, scene, "owner regulator", "GET", f"/v1/requests/{scene.request_id}")
    assert mine.json()["status"] == "open"
