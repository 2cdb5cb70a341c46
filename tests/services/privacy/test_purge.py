"""The retention purge: the sealed patient data of what is long over goes, the facts stay."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.crypto import cipher_for
from app.services import sweeper
from app.services.privacy.purge import purge_bookings, purge_requests
from tests.dispatch_factories import World, add_slots, make_world

CIPHER = cipher_for(Settings().patient_data_key)


async def _booking(session: AsyncSession, world: World, ended_days_ago: float) -> uuid.UUID:
    start = datetime.now(UTC) - timedelta(days=ended_days_ago, minutes=20)
    (slot,) = await add_slots(session, world, 1, start=start, status="booked")
    booking_id = uuid.uuid4()
    await session.execute(
        text(
            "INSERT INTO bookings (id, slot_id, regulator_client_id, status, patient, booked_at) "
            "VALUES (:id, :slot, :regulator, 'booked', :patient, :booked)"
        ),
        {
            "id": booking_id,
            "slot": slot,
            "regulator": world.regulator_id,
            "patient": CIPHER.seal_json(
                {"family_name": "Durand"}, f"bookings.patient:{booking_id}"
            ),
            "booked": start - timedelta(hours=3),
        },
    )
    return booking_id


async def _request(
    session: AsyncSession, world: World, status: str, closed_days_ago: float
) -> uuid.UUID:
    request_id = uuid.uuid4()
    closed = datetime.now(UTC) - timedelta(days=closed_days_ago)
    await session.execute(
        text(
            "INSERT INTO en_sus_requests (id, territory_id, regulator_client_id, criteria, reason, "
            "status, expires_at, created_at, updated_at) VALUES (:id, :t, :r, '{}', :reason, "
            ":status, :closed, :closed, :closed)"
        ),
        {
            "id": request_id,
            "t": world.territory_id,
            "r": world.regulator_id,
            "reason": CIPHER.seal_json({"reason": "otite"}, f"en_sus_requests.reason:{request_id}"),
            "status": status,
            "closed": closed,
        },
    )
    return request_id


async def _row(session: AsyncSession, sql: str, id_: uuid.UUID) -> dict[str, object]:
    return dict((await session.execute(text(sql), {"id": id_})).mappings().one())


async def test_a_booking_past_its_retention_loses_its_patient_and_keeps_its_facts(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    old = await _booking(session, world, ended_days_ago=91)
    recent = await _booking(session, world, ended_days_ago=89)
    assert await purge_bookings(session, days=90, batch=100) == 1
    purged = await _row(
        session,
        "SELECT b.patient, b.status, b.booked_at, b.regulator_client_id, s.professional_id, "
        "s.start_at FROM bookings b JOIN slots s ON s.id = b.slot_id WHERE b.id = :id",
        old,
    )
    assert purged["patient"] is None
    assert purged["status"] == "booked"
    assert purged["booked_at"] is not None
    assert purged["regulator_client_id"] == world.regulator_id
    assert purged["professional_id"] == world.professional_ids[0]
    kept = await _row(session, "SELECT patient FROM bookings WHERE id = :id", recent)
    assert kept["patient"] is not None
    assert await purge_bookings(session, days=90, batch=100) == 0
    audit = (
        await session.execute(
            text(
                "SELECT detail FROM audit_events WHERE action = 'patient_data.purge' "
                "AND resource_type = 'booking' ORDER BY id DESC LIMIT 1"
            )
        )
    ).scalar_one()
    assert audit == {"count": 1, "retention_days": 90}


async def test_a_closed_en_sus_request_past_its_retention_loses_its_reason(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    expired = await _request(session, world, "expired", closed_days_ago=95)
    accepted_recently = await _request(session, world, "cancelled", closed_days_ago=30)
    assert await purge_requests(session, days=90, batch=100) == 1
    assert (await _row(session, "SELECT reason FROM en_sus_requests WHERE id = :id", expired))[
        "reason"
    ] is None
    recent = await _row(
        session, "SELECT reason, status FROM en_sus_requests WHERE id = :id", accepted_recently
    )
    assert recent["reason"] is not None
    assert recent["status"] == "cancelled"


async def test_the_sweep_runs_the_purge(session: AsyncSession, connection: AsyncConnection) -> None:
    world = await make_world(session)
    booking = await _booking(session, world, ended_days_ago=10)
    await session.flush()
    sessionmaker = async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    swept = await sweeper.sweep_once(sessionmaker, patient_data_retention_days=5)
    assert swept.patient_data_purged >= 1
    assert (await _row(session, "SELECT patient FROM bookings WHERE id = :id", booking))[
        "patient"
    ] is None
