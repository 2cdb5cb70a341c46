"""`GET /v1/events`: any client's own feed; its cursor is sealed, its reach stated.

The feed's order and completeness under concurrent commits are in
tests/concurrency/test_event_feed.py (they need committed transactions).
"""

from datetime import UTC, datetime, timedelta

import httpx

from app.core.pagination import encode_bigint_pair_cursor, encode_id_cursor
from tests.conftest import MakeKey, bearer
from tests.routers.test_errors import assert_problem


async def test_a_client_without_events_gets_an_empty_feed_and_how_far_back_it_reaches(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    key, _ = await make_key("admin")
    response = await client.get("/v1/events", headers=bearer(key))
    assert response.status_code == 200, response.text
    feed = response.json()
    assert feed["items"] == []
    assert feed["next_after"] is None
    reach = datetime.fromisoformat(feed["retained_since"])
    assert abs(reach - (datetime.now(UTC) - timedelta(days=30))) < timedelta(minutes=1)
    cursor = encode_bigint_pair_cursor(12, 34)
    again = await client.get("/v1/events", params={"after": cursor}, headers=bearer(key))
    assert again.json()["next_after"] == cursor


async def test_a_cursor_not_made_by_the_feed_is_422_at_after(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    key, _ = await make_key("admin")
    for after in ("nope", encode_id_cursor(5), encode_bigint_pair_cursor(1, 2)[:-2] + "xx"):
        response = await client.get("/v1/events", params={"after": after}, headers=bearer(key))
        assert assert_problem(response, 422, "invalid-input")["location"] == "query.after"


async def test_the_feed_needs_a_key(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/events"), 401, "unauthenticated")
