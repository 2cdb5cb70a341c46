"""Retention: delivered deliveries and their events go after EVENT_RETENTION_DAYS, failed ones
after FAILED_DELIVERY_RETENTION_DAYS, pending ones never; feed-only events by age alone."""

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.services.outbox import events as outbox
from app.services.webhooks import retention
from tests.dispatch_factories import make_world
from tests.services.webhooks.test_deliveries_written import with_webhook


def _sessions(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions in the test's transaction (each `begin` a savepoint, rolled back at the end)."""
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


async def _event(
    session: AsyncSession, client_id: uuid.UUID, territory_id: uuid.UUID, days_old: int
) -> int:
    slot = str(uuid.uuid4())
    await outbox.emit_many(
        session,
        [outbox.Event("slot.created", {"id": slot, "external_id": slot}, client_id, territory_id)],
    )
    event_id: int = await session.scalar(
        text(
            "UPDATE outbox_events SET occurred_at = now() - make_interval(days => :d) "
            "WHERE data->>'id' = :slot RETURNING id"
        ),
        {"d": days_old, "slot": slot},
    )
    return event_id


async def _deliver(session: AsyncSession, event_id: int, status: str) -> None:
    await session.execute(
        text(
            "UPDATE webhook_deliveries SET status = :s, "
            "delivered_at = CASE WHEN :s = 'delivered' THEN now() END "
            "WHERE outbox_event_id = :e"
        ),
        {"s": status, "e": event_id},
    )


async def _left(session: AsyncSession, ids: list[int]) -> tuple[set[int], set[int]]:
    events = await session.scalars(
        text("SELECT id FROM outbox_events WHERE id = ANY(:ids)"), {"ids": ids}
    )
    deliveries = await session.scalars(
        text("SELECT outbox_event_id FROM webhook_deliveries WHERE outbox_event_id = ANY(:ids)"),
        {"ids": ids},
    )
    return set(events.all()), set(deliveries.all())


async def test_old_delivered_and_feed_only_events_go_failed_and_pending_ones_stay(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    world = await make_world(session)
    await with_webhook(session, world.source_id, "https://pms.example/hooks")
    source, feed_only, territory = world.source_id, world.regulator_id, world.territory_id
    delivered_old = await _event(session, source, territory, 40)
    failed_old = await _event(session, source, territory, 40)
    failed_older = await _event(session, source, territory, 100)
    pending_old = await _event(session, source, territory, 200)
    feed_old = await _event(session, feed_only, territory, 31)
    delivered_young = await _event(session, source, territory, 29)
    feed_young = await _event(session, feed_only, territory, 1)
    for event_id, status in (
        (delivered_old, "delivered"),
        (failed_old, "failed"),
        (failed_older, "failed"),
        (delivered_young, "delivered"),
    ):
        await _deliver(session, event_id, status)
    settings = Settings()
    assert (settings.event_retention_days, settings.failed_delivery_retention_days) == (30, 90)
    purged = await retention.purge_once(_sessions(connection), 30, 90, batch=2)
    assert purged is not None
    everything = [
        delivered_old,
        failed_old,
        failed_older,
        pending_old,
        feed_old,
        delivered_young,
        feed_young,
    ]
    events, deliveries = await _left(session, everything)
    assert events == {failed_old, pending_old, delivered_young, feed_young}
    assert deliveries == {failed_old, pending_old, delivered_young}
    assert (purged.events, purged.deliveries) >= (3, 2)


async def test_a_replayed_delivery_keeps_its_event(
    session: AsyncSession, connection: AsyncConnection
) -> None:
    world = await make_world(session)
    await with_webhook(session, world.source_id, "https://pms.example/hooks")
    event_id = await _event(session, world.source_id, world.territory_id, 120)
    await _deliver(session, event_id, "pending")  # as a replay leaves it
    await retention.purge_once(_sessions(connection), 30, 90)
    assert await _left(session, [event_id]) == ({event_id}, {event_id})


async def test_one_process_purges_at_a_time(
    connection: AsyncConnection, engine: AsyncEngine
) -> None:
    async with engine.connect() as other:
        await other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": retention._LEASE_KEY})  # noqa: SLF001
        try:
            assert await retention.purge_once(_sessions(connection), 30, 90) is None
        finally:
            await other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": retention._LEASE_KEY})  # noqa: SLF001
