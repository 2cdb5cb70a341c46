from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import PatientCipher
from app.schemas.en_sus_request import EnSusRequestCreate
from app.services.en_sus import service as en_sus
from tests.dispatch_factories import make_world, regulator_of

CIPHER = PatientCipher(SecretStr("test key"))


def _body(lat: float, lon: float) -> EnSusRequestCreate:
    return EnSusRequestCreate.model_validate({"location": {"lat": lat, "lon": lon}})


async def test_request_goes_to_the_regulator_territory_nearest_the_patient(
    session: AsyncSession,
) -> None:
    near = await make_world(session, accepts_en_sus=True)
    lyon = await make_world(session, accepts_en_sus=True, lat=45.76, lon=4.84)
    created = await en_sus.create_request(
        session, regulator_of(near, lyon), CIPHER, _body(45.75, 4.85)
    )
    assert created.territory_id == lyon.territory_id
    assert [p.id for p in created.professionals] == lyon.professional_ids
