"""Requests per API client: a 429 problem with `Retry-After` past the role's limit, per client,
each process counting its share of the deployment's limit."""

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.rate_limit import RateLimiter
from tests.dispatch_factories import headers, make_world
from tests.routers.test_errors import assert_problem


async def test_a_practice_software_pushing_in_a_loop_is_refused_while_searches_go_on(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    app.state.rate_limiter = RateLimiter(
        {"practice_software": "3/minute", "regulator": "100/minute"}, processes=1
    )
    world = await make_world(session)
    pushes = [
        await client.put("/v1/slots", json={"slots": []}, headers=headers(world.source_key))
        for _ in range(5)
    ]
    assert [r.status_code == 429 for r in pushes] == [False, False, False, True, True]
    refused = pushes[3]
    assert_problem(refused, 429, "rate-limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    search = {"location": {"lat": world.lat, "lon": world.lon}}
    for _ in range(5):
        answer = await client.post(
            "/v1/searches", json=search, headers=headers(world.regulator_key)
        )
        assert answer.status_code == 200, answer.text


async def test_the_limit_is_per_client_not_per_role(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    app.state.rate_limiter = RateLimiter({"regulator": "2/minute"}, processes=1)
    first, second = await make_world(session), await make_world(session)
    search = {"location": {"lat": first.lat, "lon": first.lon}}
    for _ in range(2):
        await client.post("/v1/searches", json=search, headers=headers(first.regulator_key))
    spent = await client.post("/v1/searches", json=search, headers=headers(first.regulator_key))
    fresh = await client.post("/v1/searches", json=search, headers=headers(second.regulator_key))
    assert spent.status_code == 429
    assert fresh.status_code == 200, fresh.text


async def test_each_process_counts_its_share_of_the_limit() -> None:
    limiter = RateLimiter({"regulator": "10/minute", "admin": "1/minute"}, processes=4)
    for _ in range(2):  # 10 / 4 processes → 2 here
        await limiter.hit("regulator", "a")
    with pytest.raises(Exception, match="too many requests") as refused:
        await limiter.hit("regulator", "a")
    assert getattr(refused.value, "status", None) == 429
    await limiter.hit("admin", "b")  # never less than one per process
    await limiter.hit("practice_software", "c")  # a role without a limit


def test_a_limit_the_service_cannot_read_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="rate_limit_regulator"):
        Settings(rate_limit_regulator="lots")
    assert Settings(rate_limit_regulator="").rate_limits["regulator"] == ""
