"""The audit trail as the admin reads it: newest first, filtered, paged, reads recorded too."""

import httpx

from tests.conftest import MakeKey, bearer
from tests.factories import create_professional, create_territory
from tests.routers.paging import walk_pages
from tests.routers.test_errors import assert_problem

Headers = dict[str, str]


async def test_admin_writes_appear_in_the_trail_newest_first(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    territory = await create_territory(client, admin_headers)
    pro = await create_professional(client, admin_headers)
    response = await client.get("/v1/audit-events", headers=admin_headers)
    assert response.status_code == 200
    items = response.json()["items"]
    actions = [(e["action"], e["resource_id"]) for e in items]
    assert actions.index(("professional.create", pro["id"])) < actions.index(
        ("territory.create", territory["id"])
    )
    ids = [e["id"] for e in items]
    assert ids == sorted(ids, reverse=True)
    created = next(e for e in items if e["resource_id"] == territory["id"])
    assert created["actor"].startswith("admin:")
    assert created["territory_id"] == territory["id"]


async def test_trail_filters_by_resource(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    pro = await create_professional(client, admin_headers)
    await client.patch(
        f"/v1/professionals/{pro['id']}", json={"accepts_en_sus": True}, headers=admin_headers
    )
    await create_professional(client, admin_headers)
    response = await client.get(
        "/v1/audit-events",
        params={"resource_type": "professional", "resource_id": pro["id"]},
        headers=admin_headers,
    )
    events = response.json()["items"]
    assert [e["action"] for e in events] == ["professional.update", "professional.create"]
    assert events[0]["detail"] == {"fields": ["accepts_en_sus"]}


async def test_reading_the_trail_is_itself_recorded(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await client.get("/v1/audit-events", headers=admin_headers)
    response = await client.get(
        "/v1/audit-events", params={"action": "audit.read"}, headers=admin_headers
    )
    assert len(response.json()["items"]) >= 1


async def test_trail_walks_every_event_once_over_pages(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    key, admin_id = await make_key("admin")
    for _ in range(7):
        await create_professional(client, bearer(key))
    pages = await walk_pages(
        client,
        "/v1/audit-events",
        bearer(key),
        limit=3,
        action="professional.create",
        actor_client_id=str(admin_id),
    )
    seen = [e["id"] for page in pages for e in page]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert seen == sorted(set(seen), reverse=True)


async def test_trail_with_a_bad_cursor_is_422(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.get("/v1/audit-events", params={"cursor": "abc"}, headers=admin_headers)
    assert assert_problem(response, 422, "invalid-input")["location"] == "cursor"


async def test_trail_with_an_out_of_range_cursor_is_422(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    response = await client.get(
        "/v1/audit-events", params={"cursor": "9" * 30}, headers=admin_headers
    )
    assert assert_problem(response, 422, "invalid-input")["location"] == "cursor"
