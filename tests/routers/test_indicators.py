"""`GET /v1/indicators` over the real paths: the facts a search, a hold, a booking and a
dispatch leave for it, and the refusals of bad input."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import new_rpps
from tests.dispatch_factories import World, add_slots, headers, make_world, new_client

PATIENT = {
    "family_name": "Durand",
    "given_name": "Léa",
    "birth_date": "1984-05-17",
    "phone": "06 12 34 56 78",
}
# About 1.1 km north of the site (tests.dispatch_factories.NANTES).
NEAR = {"lat": 47.2284, "lon": -1.5536}


def _today_to_tomorrow(world: World) -> dict[str, str]:
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    return {
        "territory": str(world.territory_id),
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=2)).isoformat(),
    }


async def _facts(session: AsyncSession, booking_id: str) -> Any:
    return (
        await session.execute(
            text(
                "SELECT territory_id, searched_at, search_distance_m, medecin_traitant_booked "
                "FROM bookings WHERE id = :id"
            ),
            {"id": booking_id},
        )
    ).one()


async def _book(
    client: httpx.AsyncClient, world: World, hold_id: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/v1/bookings",
        json={"hold_id": hold_id, "patient": PATIENT, **extra},
        headers=headers(world.regulator_key, **{"Idempotency-Key": str(uuid.uuid4())}),
    )


async def test_a_hold_quoting_its_search_keeps_the_search_time_and_distance_for_the_figures(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    world = await make_world(session)
    await add_slots(session, world, 1)
    before = datetime.now(UTC)
    found = await client.post(
        "/v1/searches", json={"location": NEAR}, headers=headers(world.regulator_key)
    )
    assert found.status_code == 200, found.text
    [candidate] = found.json()["candidates"]
    hold = await client.post(
        "/v1/holds",
        json={"slot_id": candidate["slot_id"], "search_id": found.json()["search_id"]},
        headers=headers(world.regulator_key),
    )
    assert hold.status_code == 201, hold.text
    booked = await _book(client, world, hold.json()["id"], medecin_traitant_rpps=new_rpps())
    assert booked.status_code == 201, booked.text
    assert booked.json()["medecin_traitant_rpps"] is not None

    facts = await _facts(session, hold.json()["id"])
    assert facts.territory_id == world.territory_id
    assert before - timedelta(seconds=1) <= facts.searched_at <= datetime.now(UTC)
    assert facts.search_distance_m == pytest.approx(candidate["distance_km"] * 1000, abs=1)
    assert facts.medecin_traitant_booked is False

    response = await client.get(
        "/v1/indicators", params=_today_to_tomorrow(world), headers=admin_headers
    )
    assert response.status_code == 200, response.text
    totals = response.json()["totals"]
    assert (totals["searches"], totals["holds"], totals["bookings"]) == (1, 1, 1)
    assert totals["bookings_within_48h"] == 1
    assert totals["median_distance_km"] == pytest.approx(candidate["distance_km"], abs=0.001)
    [professional] = response.json()["professionals"]
    assert sum(w["majoration_eligible"] for w in professional["weeks"]) == 1


async def test_booking_the_patients_medecin_traitant_earns_no_majoration(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    rpps = await session.scalar(
        text("SELECT rpps FROM professionals WHERE id = :id"), {"id": world.professional_ids[0]}
    )
    hold = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    booked = await _book(client, world, hold.json()["id"], medecin_traitant_rpps=rpps)
    assert booked.status_code == 201, booked.text
    facts = await _facts(session, hold.json()["id"])
    assert (facts.searched_at, facts.search_distance_m) == (None, None)
    assert facts.medecin_traitant_booked is True
    response = await client.get(
        "/v1/indicators", params=_today_to_tomorrow(world), headers=admin_headers
    )
    [professional] = response.json()["professionals"]
    assert sum(w["majoration_candidates"] for w in professional["weeks"]) == 0
    # Without a search quoted, the hold's own time stands for it: within 48 h.
    assert response.json()["totals"]["bookings_within_48h"] == 1


async def test_a_booking_that_does_not_name_the_medecin_traitant_keeps_it_unknown(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    hold = await client.post(
        "/v1/holds", json={"slot_id": str(slot_id)}, headers=headers(world.regulator_key)
    )
    assert (await _book(client, world, hold.json()["id"])).status_code == 201
    assert (await _facts(session, hold.json()["id"])).medecin_traitant_booked is None


async def test_dispatch_keeps_its_search_time_and_distance(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    await add_slots(session, world, 2)
    response = await client.post(
        "/v1/dispatch", json={"location": NEAR}, headers=headers(world.regulator_key)
    )
    assert response.status_code == 201, response.text
    facts = await _facts(session, response.json()["hold"]["id"])
    assert facts.searched_at is not None
    assert facts.search_distance_m == pytest.approx(
        response.json()["candidate"]["distance_km"] * 1000, abs=1
    )


async def test_another_clients_search_id_is_422_and_holds_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    _, other_key = await new_client(session, "regulator", territory_ids=[world.territory_id])
    found = await client.post("/v1/searches", json={"location": NEAR}, headers=headers(other_key))
    for search_id in (found.json()["search_id"], "bm90LWEtc2VhcmNo"):
        hold = await client.post(
            "/v1/holds",
            json={"slot_id": str(slot_id), "search_id": search_id},
            headers=headers(world.regulator_key),
        )
        assert hold.status_code == 422, hold.text
        assert hold.headers["content-type"] == "application/problem+json"
        assert "search_id" in hold.text
    status = await session.scalar(text("SELECT status FROM slots WHERE id = :id"), {"id": slot_id})
    assert status == "free"


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"from": "2026-10-31", "to": "2026-10-01"}, "to"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),  # 367 days
        ({"from": "2026-10-01", "to": "2026-10-31", "format": "xlsx"}, "format"),
        ({"from": "2026-10-01", "to": "2026-13-01"}, "to"),
        ({"to": "2026-10-31"}, "from"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "from"),
        ({"from": "1999-12-31", "to": "2000-01-01"}, "from"),
    ],
)
async def test_a_bad_period_or_format_is_422_naming_it(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_headers: dict[str, str],
    params: dict[str, str],
    where: str,
) -> None:
    world = await make_world(session)
    response = await client.get(
        "/v1/indicators",
        params={"territory": str(world.territory_id), **params},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert where in response.text


async def test_a_whole_leap_year_is_one_period(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    world = await make_world(session)
    response = await client.get(
        "/v1/indicators",
        params={"territory": str(world.territory_id), "from": "2028-01-01", "to": "2028-12-31"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["weeks"][0] == "2027-W52"
    assert response.json()["weeks"][-1] == "2028-W52"


async def test_an_unknown_territory_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        "/v1/indicators",
        params={"territory": str(uuid.uuid4()), "from": "2026-10-01", "to": "2026-10-31"},
        headers=admin_headers,
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_an_admin_reads_the_indicators(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    response = await client.get(
        "/v1/indicators",
        params={"territory": str(world.territory_id), "from": "2026-10-01", "to": "2026-10-31"},
        headers=headers(world.regulator_key),
    )
    assert response.status_code == 403


def test_the_csv_answer_is_documented_as_text_csv(app: FastAPI) -> None:
    operation = app.openapi()["paths"]["/v1/indicators"]["get"]
    content = operation["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Indicators"}
    assert content["text/csv"]["schema"] == {"type": "string"}
    assert {p["name"] for p in operation["parameters"]} == {"territory", "from", "to", "format"}
