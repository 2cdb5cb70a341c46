"""Key rotation: `python -m app reseal-patient-data` moves every sealed value to the first key."""

import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.crypto import UndecryptableData, cipher_for
from app.core.db import create_engine
from tests.conftest import migrated_database
from tests.dispatch_factories import add_slots, make_world
from tests.test_cli import query, run_cli

OLD, NEW = "an-old-patient-key-of-this-test", "the-new-patient-key-of-this-test"

pytestmark = pytest.mark.slow


@pytest.fixture
async def sealed_under_old(server_url: str) -> AsyncIterator[tuple[str, uuid.UUID]]:
    """A database with one booking whose patient minimum is sealed under OLD."""
    async with migrated_database(server_url, "reseal") as url:
        engine = create_engine(url, Settings(database_url=url))
        try:
            async with AsyncSession(engine) as session:
                world = await make_world(session)
                (slot,) = await add_slots(session, world, 1, status="booked")
                booking = uuid.uuid4()
                sealed = cipher_for(SecretStr(OLD)).seal_json(
                    {"family_name": "Durand"}, f"bookings.patient:{booking}"
                )
                await session.execute(
                    text(
                        "INSERT INTO bookings (id, slot_id, regulator_client_id, status, patient) "
                        "VALUES (:id, :slot, :r, 'booked', :patient)"
                    ),
                    {"id": booking, "slot": slot, "r": world.regulator_id, "patient": sealed},
                )
                await session.commit()
        finally:
            await engine.dispose()
        yield url, booking


async def _sealed(url: str, booking: uuid.UUID) -> bytes:
    rows = await query(url, "SELECT patient FROM bookings WHERE id = :id", id=booking)
    value: bytes = rows[0][0]
    return value


async def test_reseal_moves_old_values_to_the_new_key(
    sealed_under_old: tuple[str, uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, booking = sealed_under_old
    monkeypatch.setenv("PATIENT_DATA_KEY", f"{NEW},{OLD}")
    code, out, err = await run_cli(url, "reseal-patient-data")
    assert code == 0, err
    assert '"bookings.patient": 1' in out
    sealed = await _sealed(url, booking)
    context = f"bookings.patient:{booking}"
    assert cipher_for(SecretStr(NEW)).open_json(sealed, context) == {"family_name": "Durand"}
    with pytest.raises(UndecryptableData):
        cipher_for(SecretStr(OLD)).open(sealed, context)
    again_code, again, _ = await run_cli(url, "reseal-patient-data")
    assert again_code == 0
    assert '"bookings.patient": 0' in again
    audited = await query(
        url, "SELECT detail->>'count' FROM audit_events WHERE action = 'patient_data.reseal'"
    )
    assert audited == [("1",)]


async def test_a_value_no_configured_key_opens_is_reported_and_left(
    sealed_under_old: tuple[str, uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, booking = sealed_under_old
    before = await _sealed(url, booking)
    monkeypatch.setenv("PATIENT_DATA_KEY", NEW)
    code, out, _ = await run_cli(url, "reseal-patient-data")
    assert code == 1
    assert '"bookings.patient": 1' in out.split('"undecryptable"')[1]
    assert await _sealed(url, booking) == before
