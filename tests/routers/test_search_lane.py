"""The search's lane (`routers.searches.SearchLane`): a regulator whose key is in the process's
cache is answered from the index before FastAPI's routing, with the route's answer, refusals,
rate limit and audit; anything else goes on to the route."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.auth import PrincipalCache
from app.core.rate_limit import RateLimiter
from app.services.audit.buffer import AuditBuffer
from tests.conftest import bearer
from tests.services.search.fixtures import NANTES_LAT, NANTES_LON, SearchWorld
from tests.services.search.index_oracle import index_of

HERE = {"lat": NANTES_LAT, "lon": NANTES_LON}


async def _served(
    world: SearchWorld, app: FastAPI, session: AsyncSession, engine: AsyncEngine
) -> str:
    """Two slots near Nantes, a regulator's key, and the app given an index of them."""
    territory = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, 1.0, pro)
    for hours in (1, 2):
        await world.slot(pro, site, datetime.now(UTC) + timedelta(hours=hours))
    _, key = await world.regulator(territory)
    app.state.search_index = await index_of(session, datetime.now(UTC))
    app.state.audit_buffer = AuditBuffer(engine)
    app.state.principal_cache = PrincipalCache(60)  # the tests' settings cache no key
    return key


def _lane(app: FastAPI) -> int:
    answered: int = getattr(app.state, "search_lane_answers", 0)
    return answered


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    # `search_id` seals the search's own time; the scores and the window start from it.
    return {
        **{k: v for k, v in body.items() if k not in ("search_id", "candidates", "window")},
        "window_end": body["window"]["end"],
        "candidates": [{k: v for k, v in c.items() if k != "score"} for c in body["candidates"]],
    }


async def test_a_cached_regulator_is_answered_by_the_lane_as_by_the_route(
    world: SearchWorld, app: FastAPI, session: AsyncSession, engine: AsyncEngine
) -> None:
    key = await _served(world, app, session, engine)
    body = {"location": HERE, "limit": 5}

    by_route = await world.client.post("/v1/searches", json=body, headers=bearer(key))
    assert _lane(app) == 0  # the key was looked up: the route answered
    by_lane = await world.client.post("/v1/searches", json=body, headers=bearer(key))

    assert _lane(app) == 1
    assert by_route.status_code == by_lane.status_code == 200, by_lane.text
    assert by_lane.headers["content-type"] == by_route.headers["content-type"]
    assert len(by_lane.json()["candidates"]) == 2
    assert _comparable(by_lane.json()) == _comparable(by_route.json())
    assert by_lane.json()["search_id"] != by_route.json()["search_id"]
    # Both audited, in the search's buffered trail.
    assert app.state.audit_buffer.waiting == 2


async def test_the_lane_leaves_refusals_to_the_route(
    world: SearchWorld, app: FastAPI, session: AsyncSession, engine: AsyncEngine
) -> None:
    key = await _served(world, app, session, engine)
    await world.client.post("/v1/searches", json={"location": HERE}, headers=bearer(key))
    admin_key, _ = await world.make_key("admin")
    await world.client.get("/v1/territories", headers=bearer(admin_key))  # cached too

    invalid = await world.client.post(
        "/v1/searches", json={"location": HERE, "limit": 0}, headers=bearer(key)
    )
    not_json = await world.client.post(
        "/v1/searches", content=b"{", headers={**bearer(key), "content-type": "application/json"}
    )
    admin = await world.client.post(
        "/v1/searches", json={"location": HERE}, headers=bearer(admin_key)
    )
    no_key = await world.client.post("/v1/searches", json={"location": HERE})

    assert invalid.status_code == 422, invalid.text
    assert invalid.headers["content-type"] == "application/problem+json"
    assert "body.limit" in invalid.text
    assert not_json.status_code == 422
    assert admin.status_code == 403
    assert no_key.status_code == 401
    assert _lane(app) == 0


async def test_the_lane_spends_the_regulators_rate_limit(
    world: SearchWorld, app: FastAPI, session: AsyncSession, engine: AsyncEngine
) -> None:
    key = await _served(world, app, session, engine)
    app.state.rate_limiter = RateLimiter({"regulator": "2/minute"}, 1)
    answers = [
        await world.client.post("/v1/searches", json={"location": HERE}, headers=bearer(key))
        for _ in range(3)
    ]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert _lane(app) == 2  # the second, and the third refused by it
    refused = answers[2]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["status"] == 429


async def test_a_lagging_index_sends_the_search_to_the_route_and_sql(
    world: SearchWorld, app: FastAPI, session: AsyncSession, engine: AsyncEngine
) -> None:
    key = await _served(world, app, session, engine)
    await world.client.post("/v1/searches", json={"location": HERE}, headers=bearer(key))
    app.state.search_index.unusable = lambda window_end: "lagging"

    answer = await world.client.post("/v1/searches", json={"location": HERE}, headers=bearer(key))

    assert answer.status_code == 200
    assert len(answer.json()["candidates"]) == 2
    assert _lane(app) == 0
