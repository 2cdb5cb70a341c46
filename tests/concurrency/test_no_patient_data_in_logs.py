"""Every log line of a full mission, at DEBUG, from two real app processes: no patient field.

The flow: a push, a search, a hold and a booking with the patient minimum, the practice reading
it and cancelling it, a dispatch, an en-sus request with its reason accepted by the practice,
and the webhooks (the booking's patient minimum delivered to the practice and the regulator).
Then every line both servers wrote (uvicorn's access log included) is searched for each patient
value: the names, the birth date, the phone, the reason, the médecin traitant and the patient's
location.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import new_webhook_secret
from tests.concurrency.conftest import Build, running_servers
from tests.concurrency.receiver import Receiver, running_receiver
from tests.dispatch_factories import World, headers, make_world

pytestmark = pytest.mark.slow

PATIENT = {
    "family_name": "Quimperlé-Zabulon",
    "given_name": "Ysoline",
    "birth_date": "1937-11-23",
    "phone": "+33698765431",
}
REASON = "douleur thoracique atypique xq7"
OFFSET = 0.0013579  # the patient's location: a few hundred metres from the site


async def _hook(session: AsyncSession, client_id: uuid.UUID, receiver: Receiver) -> None:
    receiver.secret = new_webhook_secret()
    await session.execute(
        text("UPDATE api_clients SET webhook_url = :u, webhook_secret = :s WHERE id = :id"),
        {"u": receiver.url, "s": receiver.secret, "id": client_id},
    )


def _secrets(world: World, medecin_traitant: str) -> list[str]:
    lat, lon = world.lat + OFFSET, world.lon + OFFSET
    return [
        PATIENT["family_name"],
        PATIENT["given_name"],
        PATIENT["birth_date"],
        "98765431",  # the phone, in any spelling
        REASON,
        "thoracique",
        medecin_traitant,
        f"{lat:.5f}",
        f"{lon:.5f}",
    ]


async def test_a_full_flow_logs_no_patient_field(
    committed: Build, database_url: str, tmp_path: Path
) -> None:
    with running_receiver() as practice, running_receiver() as regulator:
        rpps: list[str] = []

        async def build(session: AsyncSession) -> World:
            world = await make_world(session, accepts_en_sus=True)
            await _hook(session, world.source_id, practice)
            await _hook(session, world.regulator_id, regulator)
            rpps.append(
                (
                    await session.execute(
                        text("SELECT rpps FROM professionals WHERE id = :p"),
                        {"p": world.professional_ids[0]},
                    )
                ).scalar_one()
            )
            return world

        world = await committed(build)
        env = {
            "LOG_LEVEL": "DEBUG",
            "ACCESS_LOG": "true",  # the access log too (off by default)
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "WEBHOOK_RETRY_DELAYS_SECONDS": "[0.3]",
        }
        with running_servers(database_url, env, log_dir=tmp_path) as urls:
            medecin_traitant = await _flow(urls, world, rpps[0])
            assert practice.wait_for(
                lambda r: any(x.event.get("type") == "booking.created" for x in r.delivered()), 20
            ), "the practice never received the booking"
            assert regulator.wait_for(
                lambda r: any(x.event.get("type") == "booking.created" for x in r.delivered()), 20
            ), "the regulator never received the booking"
        booked = [x for x in practice.delivered() if x.event["type"] == "booking.created"]
        assert booked[0].event["data"]["patient"]["family_name"] == PATIENT["family_name"]

    lines = [
        line
        for log in sorted(tmp_path.glob("server-*.log"))  # noqa: ASYNC240 (the servers are gone)
        for line in log.read_text(errors="replace").splitlines()
    ]
    assert len(lines) > 20, "the servers logged almost nothing: DEBUG was not on"
    assert any("POST /v1/bookings" in line for line in lines), "no access log captured"
    leaks = [
        (secret, line)
        for line in lines
        for secret in _secrets(world, medecin_traitant)
        if secret in line
    ]
    assert leaks == [], leaks[:5]


async def _flow(urls: list[str], world: World, rpps: str) -> str:
    one, two = urls
    practice, regulator = headers(world.source_key), headers(world.regulator_key)
    location = {"lat": world.lat + OFFSET, "lon": world.lon + OFFSET}
    async with httpx.AsyncClient(timeout=30) as http:
        medecin_traitant = "10000000009" if rpps != "10000000009" else "10000000017"
        first = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
        items = [
            {
                "external_id": f"logs-{i}-{uuid.uuid4().hex[:6]}",
                "professional_rpps": rpps,
                "site_id": str(world.site_id),
                "start": (first + timedelta(minutes=20 * i)).isoformat(),
                "end": (first + timedelta(minutes=20 * i + 20)).isoformat(),
                "modality": "AMB",
                "labels": ["SNP"],
            }
            for i in range(3)
        ]
        pushed = await http.put(f"{one}/v1/slots", json={"slots": items}, headers=practice)
        assert pushed.status_code == 200, pushed.text
        search = {"location": location, "medecin_traitant_rpps": medecin_traitant}
        # The other process's search index hears of the push within its lag bound (2 s).
        for _ in range(20):
            found = await http.post(f"{two}/v1/searches", json=search, headers=regulator)
            assert found.status_code == 200, found.text
            answer = found.json()
            if answer["candidates"]:
                break
            await asyncio.sleep(0.1)
        candidate = answer["candidates"][0]
        held = await http.post(
            f"{one}/v1/holds",
            json={"slot_id": candidate["slot_id"], "search_id": answer["search_id"]},
            headers=regulator,
        )
        assert held.status_code == 201, held.text
        booked = await http.post(
            f"{two}/v1/bookings",
            json={
                "hold_id": held.json()["id"],
                "patient": PATIENT,
                "reason": REASON,
                "medecin_traitant_rpps": medecin_traitant,
            },
            headers={**regulator, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert booked.status_code == 201, booked.text
        booking_id = booked.json()["id"]
        read = await http.get(f"{one}/v1/bookings/{booking_id}", headers=practice)
        assert read.json()["patient"]["family_name"] == PATIENT["family_name"]
        cancelled = await http.patch(
            f"{two}/v1/bookings/{booking_id}", json={"status": "cancelled"}, headers=practice
        )
        assert cancelled.status_code == 200, cancelled.text
        dispatched = await http.post(
            f"{one}/v1/dispatch", json={"location": location}, headers=regulator
        )
        assert dispatched.status_code in (200, 201), dispatched.text
        asked = await http.post(
            f"{two}/v1/requests", json={"location": location, "reason": REASON}, headers=regulator
        )
        assert asked.status_code == 201, asked.text
        accepted = await http.post(
            f"{one}/v1/requests/{asked.json()['id']}/accept",
            json={"professional_id": str(world.professional_ids[0])},
            headers=practice,
        )
        assert accepted.status_code == 200, accepted.text
        mine = await http.get(f"{two}/v1/requests/{asked.json()['id']}", headers=regulator)
        assert mine.json()["reason"] == REASON
    return medecin_traitant
