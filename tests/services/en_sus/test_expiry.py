from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import PatientCipher
from app.schemas.en_sus_request import EnSusRequestCreate
from app.services.en_sus import expiry as request_expiry
from app.services.en_sus import service as en_sus
from tests.dispatch_factories import make_world, regulator_of

_CIPHER = PatientCipher(SecretStr("test key"))


def _body(lat: float, lon: float) -> EnSusRequestCreate:
    return EnSusRequestCreate.model_validate({"location": {"lat": lat, "lon": lon}})


async def test_expire_requests_closes_lapsed_open_requests_only(session: AsyncSession) -> None:
    world = await make_world(session, accepts_en_sus=True)
    lapsed = await en_sus.create_request(
        session, regulator_of(world), _CIPHER, _body(world.lat, world.lon)
    )
    still_open = await en_sus.create_request(
        session, regulator_of(world), _CIPHER, _body(world.lat, world.lon)
    )
    await session.execute(
        text("UPDATE en_sus_requests SET expires_at = now() - interval '1 second' WHERE id = :id"),
        {"id": lapsed.id},
    )
    assert await request_expiry.expire_requests(session) >= 1
    statuses: dict[object, str] = dict(
        (
            await session.execute(
                text("SELECT id, status FROM en_sus_requests WHERE id IN (:a, :b)"),
                {"a": lapsed.id, "b": still_open.id},
            )
        ).all()
    )
    assert statuses == {lapsed.id: "expired", still_open.id: "open"}
    recipients = set(
        (
            await session.scalars(
                text(
                    "SELECT recipient_client_id FROM outbox_events "
                    "WHERE type = 'request.expired' AND data->>'request_id' = :id"
                ),
                {"id": str(lapsed.id)},
            )
        ).all()
    )
    assert recipients == {world.regulator_id, world.source_id}
