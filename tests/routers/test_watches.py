"""POST and DELETE /v1/watches in process (the stream itself: tests/concurrency/test_watches.py)."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.crypto import cipher_for
from app.services.watches.store import _context, purge_watches
from tests.dispatch_factories import World, headers, make_world


def _body(world: World, **extra: object) -> dict[str, object]:
    return {"location": {"lat": world.lat, "lon": world.lon}, **extra}


async def test_a_watch_is_created_with_its_defaults_and_its_search_sealed(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    world = await make_world(session)
    answer = await client.post(
        "/v1/watches", json=_body(world, limit=5), headers=headers(world.regulator_key)
    )
    assert answer.status_code == 201, answer.text
    watch = answer.json()
    lifetime = datetime.fromisoformat(watch["expires_at"]) - datetime.fromisoformat(
        watch["created_at"]
    )
    assert lifetime == timedelta(seconds=1800)
    assert watch["hold"] is False
    assert watch["events_url"] == f"/v1/watches/{watch['id']}/events"
    row = (
        await session.execute(
            text("SELECT query_sealed, regulator_client_id FROM watches WHERE id = :id"),
            {"id": watch["id"]},
        )
    ).one()
    assert str(world.lat).encode() not in row.query_sealed  # the patient's place is sealed
    opened = cipher_for(settings.patient_data_key).open_json(
        row.query_sealed, _context(row.regulator_client_id)
    )
    assert opened["location"] == {"lat": world.lat, "lon": world.lon}
    assert opened["limit"] == 5
    audited = await session.scalar(
        text(
            "SELECT count(*) FROM audit_events WHERE action = 'watch.create' AND resource_id = :id"
        ),
        {"id": watch["id"]},
    )
    assert audited == 1


async def test_a_lifetime_beyond_two_hours_is_422_naming_the_field(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    answer = await client.post(
        "/v1/watches",
        json=_body(world, lifetime_seconds=7201),
        headers=headers(world.regulator_key),
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "body.lifetime_seconds" in answer.text


async def test_a_window_already_over_is_422(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    past = datetime.now(UTC) - timedelta(hours=1)
    window = {"start": (past - timedelta(hours=1)).isoformat(), "end": past.isoformat()}
    answer = await client.post(
        "/v1/watches", json=_body(world, window=window), headers=headers(world.regulator_key)
    )
    assert answer.status_code == 422
    assert answer.json()["location"] == "body.window.end"


async def test_deleting_a_watch_twice_is_404_the_second_time(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    key = headers(world.regulator_key)
    watch = (await client.post("/v1/watches", json=_body(world), headers=key)).json()
    first = await client.delete(f"/v1/watches/{watch['id']}", headers=key)
    second = await client.delete(f"/v1/watches/{watch['id']}", headers=key)
    assert first.status_code == 204
    assert second.status_code == 404
    assert second.headers["content-type"].startswith("application/problem+json")


async def test_the_sweep_purges_watches_over_for_a_day_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    key = headers(world.regulator_key)
    ids = [
        (await client.post("/v1/watches", json=_body(world), headers=key)).json()["id"]
        for _ in range(3)
    ]
    for watch_id, ended in zip(ids, (timedelta(days=2), timedelta(hours=1), None), strict=True):
        if ended is not None:
            await session.execute(
                text(
                    "UPDATE watches SET expires_at = now() - CAST(:ago AS interval) WHERE id = :id"
                ),
                {"ago": ended, "id": watch_id},
            )
    assert await purge_watches(session, 10) == 1
    left = set(
        (
            await session.scalars(
                text("SELECT CAST(id AS text) FROM watches WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": ids},
            )
        ).all()
    )
    assert left == set(ids[1:])
