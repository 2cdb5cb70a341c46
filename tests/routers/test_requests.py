from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dispatch_factories import World, add_professional, add_site, headers, make_world
from tests.dispatch_factories import new_client as new_api_client


async def _open(client: httpx.AsyncClient, world: World, **extra: Any) -> httpx.Response:
    return await client.post(
        "/v1/requests",
        json={"location": {"lat": world.lat, "lon": world.lon}, "reason": "otite", **extra},
        headers=headers(world.regulator_key),
    )


async def test_request_goes_to_en_sus_professionals_nearest_first(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, professionals=1, accepts_en_sus=True)
    far_site = await add_site(session, world.territory_id, world.lat + 0.1, world.lon)
    far = await add_professional(session, far_site, accepts_en_sus=True)
    await add_professional(session, world.site_id, accepts_en_sus=False)
    response = await _open(client, world)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "open"
    assert created["territory_id"] == str(world.territory_id)
    assert created["reason"] == "otite"
    assert [p["id"] for p in created["professionals"]] == [
        str(world.professional_ids[0]),
        str(far),
    ]
    assert created["professionals"][1]["distance_km"] > 10
    assert created["criteria"]["location"] == {"lat": world.lat, "lon": world.lon}
    stored = await session.scalar(
        text("SELECT reason FROM en_sus_requests WHERE id = :id"), {"id": created["id"]}
    )
    assert stored is not None
    assert b"otite" not in stored
    # The patient's location and médecin traitant are sealed with the reason, not kept in clear.
    criteria = await session.scalar(
        text("SELECT criteria::text FROM en_sus_requests WHERE id = :id"), {"id": created["id"]}
    )
    assert str(world.lat) not in criteria
    assert "location" not in criteria
    recipients = (
        await session.scalars(
            text(
                "SELECT recipient_client_id FROM outbox_events "
                "WHERE type = 'request.created' AND data->>'request_id' = :id ORDER BY id"
            ),
            {"id": created["id"]},
        )
    ).all()
    # The practice software of the asked professionals, and the regulator who asked.
    assert recipients == [world.source_id, world.regulator_id]


async def test_first_accept_wins_and_the_next_is_409(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, professionals=2, accepts_en_sus=True)
    created = (await _open(client, world)).json()
    first = await client.post(
        f"/v1/requests/{created['id']}/accept",
        json={"professional_id": str(world.professional_ids[0])},
        headers=headers(world.source_key),
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted"
    assert first.json()["accepted_by_professional_id"] == str(world.professional_ids[0])
    second = await client.post(
        f"/v1/requests/{created['id']}/accept",
        json={"professional_id": str(world.professional_ids[1])},
        headers=headers(world.source_key),
    )
    assert second.status_code == 409
    assert second.json()["type"].endswith("request-not-open")
    types = (
        await session.scalars(
            text(
                "SELECT recipient_client_id FROM outbox_events "
                "WHERE type = 'request.accepted' AND data->>'request_id' = :id"
            ),
            {"id": created["id"]},
        )
    ).all()
    assert set(types) == {world.source_id, world.regulator_id}


async def test_accept_after_expiry_is_409_and_the_request_reads_expired(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    created = (await _open(client, world)).json()
    await session.execute(
        text("UPDATE en_sus_requests SET expires_at = now() - interval '1 second' WHERE id = :id"),
        {"id": created["id"]},
    )
    response = await client.post(
        f"/v1/requests/{created['id']}/accept",
        json={"professional_id": str(world.professional_ids[0])},
        headers=headers(world.source_key),
    )
    assert response.status_code == 409
    assert response.json()["request_status"] == "expired"
    read = await client.get(f"/v1/requests/{created['id']}", headers=headers(world.regulator_key))
    assert read.json()["status"] == "expired"


async def test_practice_cannot_accept_for_a_professional_it_does_not_act_for(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, professionals=2, accepts_en_sus=True)
    _, narrow_key = await new_api_client(
        session, "practice_software", professional_ids=[world.professional_ids[0]]
    )
    created = (await _open(client, world)).json()
    response = await client.post(
        f"/v1/requests/{created['id']}/accept",
        json={"professional_id": str(world.professional_ids[1])},
        headers=headers(narrow_key),
    )
    assert response.status_code == 403


async def test_practice_whose_professionals_were_not_asked_does_not_see_the_request(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    other = await make_world(session, accepts_en_sus=True)
    created = (await _open(client, world)).json()
    read = await client.get(f"/v1/requests/{created['id']}", headers=headers(other.source_key))
    assert read.status_code == 404
    accept = await client.post(
        f"/v1/requests/{created['id']}/accept",
        json={"professional_id": str(other.professional_ids[0])},
        headers=headers(other.source_key),
    )
    assert accept.status_code == 404


async def test_accept_for_a_professional_not_asked_is_422(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    outsider = await add_professional(session, world.site_id, accepts_en_sus=False)
    created = (await _open(client, world)).json()
    response = await client.post(
        f"/v1/requests/{created['id']}/accept",
        json={"professional_id": str(outsider)},
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.json()["location"] == "body.professional_id"


async def test_regulator_of_another_territory_cannot_read_the_request(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    other = await make_world(session)
    created = (await _open(client, world)).json()
    read = await client.get(f"/v1/requests/{created['id']}", headers=headers(other.regulator_key))
    assert read.status_code == 404


async def test_reads_of_a_request_are_audited_without_the_reason(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    created = (await _open(client, world)).json()
    # Issue 9: the requesting regulator reads the reason (an asked practice, before it accepts,
    # no longer does: tests/routers/test_request_privacy.py).
    read = await client.get(f"/v1/requests/{created['id']}", headers=headers(world.regulator_key))
    assert read.status_code == 200
    assert read.json()["reason"] == "otite"
    rows = (
        await session.execute(
            text(
                "SELECT action, detail::text AS detail FROM audit_events "
                "WHERE resource_type = 'en_sus_request' AND resource_id = :id ORDER BY id"
            ),
            {"id": created["id"]},
        )
    ).all()
    assert [r.action for r in rows] == ["request.create", "request.read"]
    assert all("otite" not in r.detail for r in rows)


async def test_request_replay_with_same_key_answers_the_same_request(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    body = {"location": {"lat": world.lat, "lon": world.lon}, "reason": "otite"}
    auth = headers(world.regulator_key, **{"Idempotency-Key": "req-1"})
    first = await client.post("/v1/requests", json=body, headers=auth)
    again = await client.post("/v1/requests", json=body, headers=auth)
    assert again.json() == first.json()
    stored = await session.scalar(
        text("SELECT response::text FROM idempotency_records WHERE key = 'req-1'")
    )
    assert stored is not None
    assert "otite" not in stored


async def test_replayed_request_answer_is_audited_as_a_read(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, accepts_en_sus=True)
    body = {"location": {"lat": world.lat, "lon": world.lon}, "reason": "otite"}
    auth = headers(world.regulator_key, **{"Idempotency-Key": "req-2"})
    first = (await client.post("/v1/requests", json=body, headers=auth)).json()
    await client.post("/v1/requests", json=body, headers=auth)
    actions = (
        await session.scalars(
            text(
                "SELECT action FROM audit_events WHERE resource_type = 'en_sus_request' "
                "AND resource_id = :id ORDER BY id"
            ),
            {"id": first["id"]},
        )
    ).all()
    assert actions == ["request.create", "request.read"]


@pytest.mark.parametrize(
    ("window", "location"),
    [
        ({"start": "9999-12-31T00:00:00+00:00"}, "body.window.start"),
        ({"start": "9999-12-31T23:00:00-05:00"}, "body.window.start"),
        ({"end": "2001-01-01T00:00:00+00:00"}, "body.window.end"),
        ({"start": "0.5"}, "body.window.start"),
    ],
)
async def test_request_window_follows_the_search_rule(
    client: httpx.AsyncClient, session: AsyncSession, window: dict[str, str], location: str
) -> None:
    world = await make_world(session, professionals=1, accepts_en_sus=True)
    before = await session.scalar(text("SELECT count(*) FROM en_sus_requests"))
    response = await _open(client, world, window=window)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert location in {
        problem.get("location"),
        *(e["location"] for e in problem.get("errors", [])),
    }
    assert await session.scalar(text("SELECT count(*) FROM en_sus_requests")) == before
    # And the same for a search, so the two never drift apart.
    search = await client.post(
        "/v1/searches",
        json={"location": {"lat": world.lat, "lon": world.lon}, "window": window},
        headers=headers(world.regulator_key),
    )
    assert search.status_code == 422


async def test_a_subnormal_coordinate_is_read_as_zero(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session, professionals=1, accepts_en_sus=True)
    response = await client.post(
        "/v1/requests",
        json={"location": {"lat": 20.97, "lon": -5e-324}},
        headers=headers(world.regulator_key),
    )
    assert response.status_code == 201, response.text
