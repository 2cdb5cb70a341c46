import uuid

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import PatientCipher
from app.schemas.en_sus_request import EnSusRequestCreate
from app.schemas.hold import HoldCreate
from app.services.holds import expiry as hold_expiry
from app.services.holds import lifecycle as holds
from tests.dispatch_factories import add_slots, make_world, regulator_of

_CIPHER = PatientCipher(SecretStr("test key"))


def _body(lat: float, lon: float) -> EnSusRequestCreate:
    return EnSusRequestCreate.model_validate({"location": {"lat": lat, "lon": lon}})


async def _expire(session: AsyncSession, hold_id: uuid.UUID) -> None:
    for sql in (
        "UPDATE slots SET hold_expires_at = now() - interval '1 second' "
        "WHERE id = (SELECT slot_id FROM bookings WHERE id = :id)",
        "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = :id",
    ):
        await session.execute(text(sql), {"id": hold_id})


async def test_sweep_frees_expired_holds_and_tells_the_practice(session: AsyncSession) -> None:
    world = await make_world(session)
    expired_slot, live_slot = await add_slots(session, world, 2)
    old = await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=expired_slot))
    live = await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=live_slot))
    await _expire(session, old.id)
    freed = await hold_expiry.expire_holds(session)
    assert freed >= 1
    rows: dict[object, str] = dict(
        (
            await session.execute(
                text(
                    "SELECT b.id, s.status || '/' || b.status FROM bookings b "
                    "JOIN slots s ON s.id = b.slot_id WHERE b.id IN (:old, :live)"
                ),
                {"old": old.id, "live": live.id},
            )
        ).all()
    )
    assert rows == {old.id: "free/expired", live.id: "held/held"}
    recipients = (
        await session.scalars(
            text(
                "SELECT recipient_client_id FROM outbox_events "
                "WHERE type = 'hold.expired' AND data->>'hold_id' = :id"
            ),
            {"id": str(old.id)},
        )
    ).all()
    # The practice and the regulator whose hold lapsed: one event row each.
    assert sorted(recipients) == sorted([world.source_id, world.regulator_id])
    action = await session.scalar(
        text("SELECT action FROM audit_events WHERE resource_id = :id ORDER BY id DESC LIMIT 1"),
        {"id": str(old.id)},
    )
    assert action == "hold.expire"


async def test_sweep_leaves_a_slot_whose_expired_hold_was_retaken(session: AsyncSession) -> None:
    world = await make_world(session)
    [slot_id] = await add_slots(session, world, 1)
    old = await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot_id))
    await _expire(session, old.id)
    again = await holds.hold_slot(session, regulator_of(world), HoldCreate(slot_id=slot_id))
    await hold_expiry.expire_holds(session)
    status = await session.scalar(
        text("SELECT status FROM bookings WHERE id = :id"), {"id": again.id}
    )
    assert status == "held"
