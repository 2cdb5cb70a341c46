"""Deliveries are written with their events: one per event and recipient with a webhook."""

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import new_webhook_secret
from app.schemas.hold import HoldCreate
from app.services.holds import lifecycle as holds
from app.services.outbox import events as outbox
from tests.dispatch_factories import World, add_slots, make_world, regulator_of


async def with_webhook(session: AsyncSession, client_id: uuid.UUID, url: str) -> None:
    await session.execute(
        text("UPDATE api_clients SET webhook_url = :u, webhook_secret = :s WHERE id = :id"),
        {"u": url, "s": new_webhook_secret(), "id": client_id},
    )


async def deliveries(session: AsyncSession, world: World) -> list[tuple[str, object, str]]:
    rows = await session.execute(
        text(
            "SELECT e.type, d.ordering_key, d.status FROM webhook_deliveries d "
            "JOIN outbox_events e ON e.id = d.outbox_event_id "
            "WHERE d.client_id IN (:source, :regulator) ORDER BY d.outbox_event_id"
        ),
        {"source": world.source_id, "regulator": world.regulator_id},
    )
    return [tuple(r) for r in rows.all()]


async def test_a_hold_writes_a_pending_delivery_for_the_practice_with_a_webhook(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    await with_webhook(session, world.source_id, "https://pms.example/hooks")
    (slot,) = await add_slots(session, world, 1)
    await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot))
    assert await deliveries(session, world) == [("hold.created", slot, "pending")]


async def test_no_delivery_without_a_webhook_url_or_once_the_endpoint_is_disabled(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    first, second = await add_slots(session, world, 2)
    await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=first))
    await with_webhook(session, world.source_id, "https://pms.example/hooks")
    await session.execute(
        text("UPDATE api_clients SET webhook_disabled_at = now() WHERE id = :id"),
        {"id": world.source_id},
    )
    await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=second))
    assert await deliveries(session, world) == []


async def test_events_written_by_copy_get_their_deliveries_too(session: AsyncSession) -> None:
    world = await make_world(session)
    await with_webhook(session, world.source_id, "https://pms.example/hooks")
    slot_ids = [uuid.uuid4() for _ in range(3)]
    await outbox.emit_many(
        session,
        [
            outbox.Event("slot.created", {"id": str(s)}, world.source_id, world.territory_id)
            for s in slot_ids
        ]
        + [outbox.Event("slot.created", {"id": str(slot_ids[0])}, None, world.territory_id)],
    )
    assert await deliveries(session, world) == [("slot.created", s, "pending") for s in slot_ids]
