"""Admin view of webhook deliveries: the list by status and pages, replay, health, re-enable."""

import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.outbox import events as outbox
from tests.dispatch_factories import World, headers, make_world
from tests.routers.paging import ids_of, walk_pages
from tests.routers.test_errors import assert_problem
from tests.services.webhooks.test_deliveries_written import with_webhook

Headers = dict[str, str]


async def _world_with_events(session: AsyncSession, count: int) -> World:
    world = await make_world(session)
    await with_webhook(session, world.source_id, "https://pms.example/hooks")
    await outbox.emit_many(
        session,
        [
            outbox.Event(
                "slot.created",
                {"id": str(uuid.uuid4()), "external_id": f"e{i}"},
                world.source_id,
                world.territory_id,
            )
            for i in range(count)
        ],
    )
    return world


async def _delivery_ids(session: AsyncSession, world: World) -> list[int]:
    rows = await session.scalars(
        text("SELECT id FROM webhook_deliveries WHERE client_id = :c ORDER BY id"),
        {"c": world.source_id},
    )
    return list(rows.all())


async def _set(session: AsyncSession, delivery_id: int, **values: Any) -> None:
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    await session.execute(
        text(f"UPDATE webhook_deliveries SET {assignments} WHERE id = :id"),  # noqa: S608
        {"id": delivery_id, **values},
    )


async def test_deliveries_are_listed_newest_first_with_their_event_and_attempts(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession
) -> None:
    world = await _world_with_events(session, 2)
    first, second = await _delivery_ids(session, world)
    await session.execute(
        text(
            "UPDATE webhook_deliveries SET status = 'failed', attempts = 8, "
            "last_status_code = 503, last_error = 'HTTP 503', last_attempt_at = now() "
            "WHERE id = :id"
        ),
        {"id": first},
    )
    response = await client.get(f"/v1/clients/{world.source_id}/deliveries", headers=admin_headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["id"] for i in items] == [second, first]
    pending, failed = items
    assert pending["status"] == "pending"
    assert pending["type"] == "slot.created"
    assert pending["attempts"] == 0
    assert pending["next_attempt_at"] is not None
    assert uuid.UUID(pending["event_id"])
    assert failed["status"] == "failed"
    assert (failed["attempts"], failed["last_status_code"]) == (8, 503)
    assert failed["last_error"] == "HTTP 503"
    assert failed["next_attempt_at"] is None  # none will come
    assert failed["last_attempt_at"] is not None
    assert failed["delivered_at"] is None
    only_failed = await client.get(
        f"/v1/clients/{world.source_id}/deliveries",
        params={"status": "failed"},
        headers=admin_headers,
    )
    assert [i["id"] for i in only_failed.json()["items"]] == [first]


async def test_deliveries_page_with_the_signed_cursor(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession
) -> None:
    world = await _world_with_events(session, 5)
    pages = await walk_pages(client, f"/v1/clients/{world.source_id}/deliveries", admin_headers, 2)
    assert [int(i) for i in ids_of(pages)] == sorted(await _delivery_ids(session, world))[::-1]
    forged = await client.get(
        f"/v1/clients/{world.source_id}/deliveries",
        params={"cursor": "WzFd.AAAAAAAAAAAAAAAAAAAAAA"},
        headers=admin_headers,
    )
    assert_problem(forged, 422, "invalid-input")


async def test_the_list_refuses_a_bad_status_an_unknown_client_and_a_non_admin(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession
) -> None:
    world = await _world_with_events(session, 1)
    path = f"/v1/clients/{world.source_id}/deliveries"
    bad = await client.get(path, params={"status": "lost"}, headers=admin_headers)
    assert assert_problem(bad, 422, "invalid-input")["errors"][0]["location"] == "query.status"
    unknown = await client.get(f"/v1/clients/{uuid.uuid4()}/deliveries", headers=admin_headers)
    assert_problem(unknown, 404, "not-found")
    assert_problem(await client.get(path, headers=headers(world.regulator_key)), 403, "forbidden")


async def _audited(session: AsyncSession, action: str, resource_id: object) -> list[Any]:
    rows = await session.execute(
        text("SELECT detail FROM audit_events WHERE action = :a AND resource_id = :r"),
        {"a": action, "r": str(resource_id)},
    )
    return [r[0] for r in rows.all()]


async def test_a_failed_delivery_is_replayed_due_now_from_its_first_attempt_and_audited(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession
) -> None:
    world = await _world_with_events(session, 1)
    (delivery,) = await _delivery_ids(session, world)
    await _set(session, delivery, status="failed", attempts=8, last_status_code=500)
    response = await client.post(f"/v1/deliveries/{delivery}/replay", headers=admin_headers)
    assert response.status_code == 200, response.text
    replayed = response.json()
    assert (replayed["status"], replayed["attempts"]) == ("pending", 0)
    assert replayed["last_status_code"] == 500  # the last answer stays until the next attempt
    due = await session.scalar(
        text("SELECT next_attempt_at <= now() FROM webhook_deliveries WHERE id = :id"),
        {"id": delivery},
    )
    assert due
    assert await _audited(session, "webhook_delivery.replay", delivery) == [
        {"client_id": str(world.source_id), "was": "failed"}
    ]
    again = await client.post(f"/v1/deliveries/{delivery}/replay", headers=admin_headers)
    assert_problem(again, 409, "conflict")  # pending already


async def test_a_delivered_delivery_is_replayed_too(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession
) -> None:
    world = await _world_with_events(session, 1)
    (delivery,) = await _delivery_ids(session, world)
    await _set(session, delivery, status="delivered", attempts=1)
    await session.execute(
        text("UPDATE webhook_deliveries SET delivered_at = now() WHERE id = :id"),
        {"id": delivery},
    )
    response = await client.post(f"/v1/deliveries/{delivery}/replay", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["delivered_at"] is None


async def test_replay_to_a_disabled_endpoint_is_409_until_it_is_enabled(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession
) -> None:
    world = await _world_with_events(session, 1)
    (delivery,) = await _delivery_ids(session, world)
    await _set(session, delivery, status="failed", attempts=1, last_status_code=410)
    await session.execute(
        text("UPDATE api_clients SET webhook_disabled_at = now() WHERE id = :id"),
        {"id": world.source_id},
    )
    shown = (await client.get(f"/v1/clients/{world.source_id}", headers=admin_headers)).json()
    assert shown["webhook"]["status"] == "disabled"
    assert shown["webhook_disabled_at"] is not None
    refused = await client.post(f"/v1/deliveries/{delivery}/replay", headers=admin_headers)
    assert "enable" in assert_problem(refused, 409, "conflict")["detail"]
    enabled = await client.post(
        f"/v1/clients/{world.source_id}/webhook/enable", headers=admin_headers
    )
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["status"] == "failing"  # its 410 is a recent failure
    assert enabled.json()["disabled_at"] is None
    assert len(await _audited(session, "client.webhook_enable", world.source_id)) == 1
    again = await client.post(
        f"/v1/clients/{world.source_id}/webhook/enable", headers=admin_headers
    )
    assert again.status_code == 200  # not disabled: nothing to do, not audited again
    assert len(await _audited(session, "client.webhook_enable", world.source_id)) == 1
    replayed = await client.post(f"/v1/deliveries/{delivery}/replay", headers=admin_headers)
    assert replayed.status_code == 200, replayed.text


async def test_replay_and_enable_refuse_what_is_not_there(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession
) -> None:
    world = await make_world(session)  # no webhook URL
    assert_problem(
        await client.post("/v1/deliveries/999999999/replay", headers=admin_headers),
        404,
        "not-found",
    )
    assert_problem(
        await client.post("/v1/deliveries/0/replay", headers=admin_headers), 422, "invalid-input"
    )
    assert_problem(
        await client.post(f"/v1/clients/{world.source_id}/webhook/enable", headers=admin_headers),
        409,
        "conflict",
    )
    assert_problem(
        await client.post(f"/v1/clients/{uuid.uuid4()}/webhook/enable", headers=admin_headers),
        404,
        "not-found",
    )
    assert_problem(
        await client.post("/v1/deliveries/1/replay", headers=headers(world.regulator_key)),
        403,
        "forbidden",
    )


async def test_health_counts_the_deliveries_and_says_failing_or_delivered(
    client: httpx.AsyncClient, admin_headers: Headers, session: AsyncSession
) -> None:
    world = await _world_with_events(session, 3)
    one, two, three = await _delivery_ids(session, world)
    await _set(session, one, status="delivered", attempts=1)
    await session.execute(
        text("UPDATE webhook_deliveries SET delivered_at = now() WHERE id = :id"), {"id": one}
    )

    async def health() -> dict[str, Any]:
        shown = await client.get(f"/v1/clients/{world.source_id}", headers=admin_headers)
        assert shown.status_code == 200, shown.text
        webhook: dict[str, Any] = shown.json()["webhook"]
        return webhook

    first = await health()
    assert first["status"] == "delivered"  # two pending, never attempted yet
    assert (first["pending"], first["delivered"], first["failed"]) == (2, 1, 0)
    assert first["last_delivered_at"] is not None
    await _set(session, two, attempts=1, last_status_code=503, last_error="HTTP 503")
    assert (await health())["status"] == "failing"  # a pending one already failed once
    await _set(session, two, status="delivered", last_error=None)
    await _set(session, three, status="failed", attempts=8)
    await session.execute(
        text("UPDATE webhook_deliveries SET last_attempt_at = now() - interval '2 days'")
    )
    old_failure = await health()
    assert old_failure["status"] == "delivered"  # its failure is older than a day
    assert old_failure["failed"] == 1
    await session.execute(
        text("UPDATE webhook_deliveries SET last_attempt_at = now() WHERE id = :id"),
        {"id": three},
    )
    assert (await health())["status"] == "failing"
    regulator = await client.get(f"/v1/clients/{world.regulator_id}", headers=admin_headers)
    assert regulator.json()["webhook"] is None  # no webhook URL
