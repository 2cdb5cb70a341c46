"""Two SAS requests creating the same regulator at once: one account, the other a 422 duplicate
(the unique identifiers decide, not a check made before the write)."""

import asyncio
import uuid
from collections import Counter

from sqlalchemy import text

from app.services.fhir import codes
from tests.conftest import bearer
from tests.factories import create_territory
from tests.services.fhir.live_app import key_of, running_app


async def test_concurrent_creations_of_one_regulator_make_one_account(
    appointments_db: str,
) -> None:
    async with running_app(appointments_db) as (client, app):
        admin_key, _ = await key_of(app, "admin")
        territory = await create_territory(client, bearer(admin_key))
        sas_key, _ = await key_of(app, "sas_platform", territory_ids=[territory["id"]])
        headers = {**bearer(sas_key), "content-type": codes.FHIR_JSON}
        uid = str(uuid.uuid4())
        body = {
            "resourceType": "Practitioner",
            "identifier": [
                {
                    "type": {"coding": [{"system": codes.V2_0203, "code": "INTRN"}]},
                    "system": codes.OID_SAS,
                    "value": uid,
                }
            ],
            "active": True,
            "name": [{"family": "Loridon", "given": ["Sébastien"]}],
            "telecom": [{"system": "email", "value": f"{uid}@test.com"}],
        }
        answers = await asyncio.gather(
            *(client.post("/fhir/Practitioner", json=body, headers=headers) for _ in range(6))
        )
        assert Counter(a.status_code for a in answers) == {201: 1, 422: 5}
        async with app.state.sessionmaker() as session:
            held = await session.scalar(
                text("SELECT count(*) FROM sas_regulators WHERE technical_id = :id"), {"id": uid}
            )
        assert held == 1
