"""The request limit of a client holds across the processes of a deployment."""

import httpx
import pytest

from tests.concurrency.conftest import Build, running_servers
from tests.dispatch_factories import headers, make_world

pytestmark = pytest.mark.slow


async def test_two_processes_share_one_limit(committed: Build, database_url: str) -> None:
    """Two real servers, each counting half of the client's 8 a minute: 8 answers in all."""
    world = await committed(make_world)
    env = {"RATE_LIMIT_REGULATOR": "8/minute", "RATE_LIMIT_PROCESSES": "2"}
    search = {"location": {"lat": world.lat, "lon": world.lon}}
    with running_servers(database_url, env) as urls:
        statuses = []
        async with httpx.AsyncClient(timeout=10) as http:
            for i in range(16):
                answer = await http.post(
                    f"{urls[i % 2]}/v1/searches", json=search, headers=headers(world.regulator_key)
                )
                statuses.append(answer.status_code)
    assert statuses.count(200) == 8, statuses
    assert statuses.count(429) == 8, statuses
