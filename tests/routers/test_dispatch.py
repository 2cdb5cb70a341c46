import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dispatch_factories import World, add_slots, headers, make_world, new_client
from tests.services.search.conftest import index_agrees_with_sql  # noqa: F401 (autouse)


def _body(world: World, **extra: object) -> dict[str, object]:
    return {"location": {"lat": world.lat, "lon": world.lon}, **extra}


async def test_dispatch_holds_the_best_candidate_and_offers_the_next_as_alternatives(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    slot_ids = await add_slots(session, world, 3)
    response = await client.post(
        "/v1/dispatch", json=_body(world, ttl_seconds=120), headers=headers(world.regulator_key)
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["hold"]["slot_id"] == answer["candidate"]["slot_id"] == str(slot_ids[0])
    assert answer["hold"]["ttl_seconds"] == 120
    assert [a["slot_id"] for a in answer["alternatives"]] == [str(s) for s in slot_ids[1:]]
    status = await session.scalar(
        text("SELECT status FROM slots WHERE id = :id"), {"id": slot_ids[0]}
    )
    assert status == "held"
    holder = await session.scalar(
        text("SELECT regulator_client_id FROM bookings WHERE id = :id"),
        {"id": answer["hold"]["id"]},
    )
    assert holder == world.regulator_id


async def test_dispatch_skips_a_slot_another_regulator_holds(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    first, second = await add_slots(session, world, 2)
    _, other_key = await new_client(session, "regulator", territory_ids=[world.territory_id])
    taken = await client.post("/v1/holds", json={"slot_id": str(first)}, headers=headers(other_key))
    assert taken.status_code == 201
    response = await client.post(
        "/v1/dispatch", json=_body(world), headers=headers(world.regulator_key)
    )
    assert response.status_code == 201, response.text
    assert response.json()["hold"]["slot_id"] == str(second)


async def test_dispatch_with_nothing_free_is_404_no_free_slot_pointing_to_en_sus(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    await add_slots(session, world, 1, status="booked")
    response = await client.post(
        "/v1/dispatch", json=_body(world, specialty="SM54"), headers=headers(world.regulator_key)
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("no-free-slot")
    assert problem["en_sus_request"]["href"] == "/v1/requests"
    assert problem["en_sus_request"]["body"]["specialty"] == "SM54"
    assert "ttl_seconds" not in problem["en_sus_request"]["body"]


async def test_dispatch_no_free_slot_with_idempotency_key_is_404_problem(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    auth = headers(world.regulator_key, **{"Idempotency-Key": "dispatch-1"})
    empty = await client.post("/v1/dispatch", json=_body(world), headers=auth)
    assert empty.status_code == 404
    assert empty.json()["type"].endswith("no-free-slot")


async def test_dispatch_does_not_take_slots_of_another_territory(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    elsewhere = await make_world(session)
    await add_slots(session, elsewhere, 2)
    response = await client.post(
        "/v1/dispatch", json=_body(world), headers=headers(world.regulator_key)
    )
    assert response.status_code == 404


async def test_dispatch_ttl_above_900_is_422(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    response = await client.post(
        "/v1/dispatch", json=_body(world, ttl_seconds=1000), headers=headers(world.regulator_key)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.ttl_seconds"


async def test_keyed_dispatch_without_free_slot_keeps_its_search_audit_and_frees_the_key(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    auth = headers(world.regulator_key, **{"Idempotency-Key": "dispatch-2"})
    empty = await client.post("/v1/dispatch", json=_body(world), headers=auth)
    assert empty.status_code == 404
    actions = (
        await session.scalars(
            text("SELECT action FROM audit_events WHERE actor_client_id = :id ORDER BY id"),
            {"id": world.regulator_id},
        )
    ).all()
    assert actions == ["search.run", "dispatch.no_free_slot"]
    [slot_id] = await add_slots(session, world, 1)
    retried = await client.post("/v1/dispatch", json=_body(world), headers=auth)
    assert retried.status_code == 201, retried.text
    assert retried.json()["hold"]["slot_id"] == str(slot_id)
