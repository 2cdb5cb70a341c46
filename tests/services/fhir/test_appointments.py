"""INT_R03: a SAS regulator's booking reaches the SAS as a FHIR Appointment, from the outbox
written with the booking change, retried, over mutual TLS when configured.

The app runs with its real lifespan (its worker included) on a database of its own, since the
worker only sees committed rows; the SAS is a receiver on loopback.
"""

import asyncio
import ssl
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.core.config import Settings
from app.services.fhir import codes
from tests.conftest import bearer
from tests.factories import create_professional, create_site, create_territory
from tests.services.fhir.guide import check_appointment
from tests.services.fhir.live_app import SYSTEM, key_of, running_app
from tests.services.fhir.sas_receiver import Received, SasReceiver, running_sas

PATIENT = {"family_name": "Durand", "given_name": "Léa", "birth_date": "1987-04-12",
           "phone": "06 12 34 56 78"}  # fmt: skip


@dataclass
class Booked:
    app_client: httpx.AsyncClient
    admin: dict[str, str]
    practice: dict[str, str]
    booking_id: str
    rpps: str
    app: Any


async def book(client: httpx.AsyncClient, app: Any, sas_regulator: bool = True) -> Booked:
    """A territory, a professional's slot pushed by its practice software, and a booking of it
    by a regulator (made by the SAS through INT_R02 if `sas_regulator`)."""
    admin_key, _ = await key_of(app, "admin")
    admin = bearer(admin_key)
    territory = await create_territory(client, admin)
    pro = await create_professional(client, admin)
    site = await create_site(client, admin, territory["id"], [pro["id"]])
    practice_key, _ = await key_of(
        app, "practice_software", territory_ids=[territory["id"]], professional_ids=[pro["id"]]
    )
    practice = bearer(practice_key)
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    pushed = await client.put(
        "/v1/slots",
        json={
            "slots": [
                {
                    "external_id": uuid.uuid4().hex,
                    "professional_rpps": pro["rpps"],
                    "site_id": site["id"],
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=15)).isoformat(),
                    "modality": "AMB",
                    "labels": ["SNP"],
                }
            ]
        },  # fmt: skip
        headers=practice,
    )
    slot_id = pushed.json()["results"][0]["id"]
    if sas_regulator:
        sas_key, _ = await key_of(app, "sas_platform", territory_ids=[territory["id"]])
        body = {
            "resourceType": "Practitioner",
            "identifier": [
                {
                    "type": {"coding": [{"system": codes.V2_0203, "code": "IDNPS"}]},
                    "system": codes.OID_PS,
                    "value": "3456780581/11242343",
                }
            ],  # fmt: skip
            "active": True,
            "name": [{"family": "Loridon", "given": ["Sébastien"]}],
            "telecom": [{"system": "email", "value": "s.loridon@test.com"}],
        }
        created = await client.post(
            "/fhir/Practitioner",
            json=body,
            headers={**bearer(sas_key), "content-type": codes.FHIR_JSON},
        )
        assert created.status_code in (201, 422), created.text
        if created.status_code == 422:  # the account exists from an earlier test
            created = await client.put(
                "/fhir/Practitioner",
                params={"identifier": f"{codes.OID_PS}|3456780581/11242343"},
                json=body,
                headers={**bearer(sas_key), "content-type": codes.FHIR_JSON},
            )
        regulator_id = created.json()["id"]
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(
                text("INSERT INTO api_client_territories VALUES (:c, :t) ON CONFLICT DO NOTHING"),
                {"c": regulator_id, "t": territory["id"]},
            )
        rotated = await client.post(
            f"/v1/clients/{regulator_id}/rotate-key", json={}, headers=admin
        )
        regulator = bearer(rotated.json()["api_key"])
    else:
        key, _ = await key_of(app, "regulator", territory_ids=[territory["id"]])
        regulator = bearer(key)
    hold = await client.post("/v1/holds", json={"slot_id": slot_id}, headers=regulator)
    assert hold.status_code == 201, hold.text
    booking = await client.post(
        "/v1/bookings",
        json={"hold_id": hold.json()["id"], "patient": PATIENT, "reason": "otalgie"},
        headers={**regulator, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert booking.status_code == 201, booking.text
    return Booked(client, admin, practice, booking.json()["id"], pro["rpps"], app)


async def outbox(app: Any, booking_id: str) -> list[Any]:
    async with app.state.sessionmaker() as session:
        return list(
            (
                await session.execute(
                    text(
                        "SELECT status, state, attempts, last_status_code FROM sas_appointments "
                        "WHERE booking_id = :b ORDER BY id"
                    ),
                    {"b": booking_id},
                )
            ).all()
        )


async def settled(app: Any, booking_id: str, count: int) -> list[Any]:
    """The booking's outbox rows once `count` of them are sent or failed (10 s at most)."""
    for _ in range(200):
        rows = await outbox(app, booking_id)
        if sum(1 for r in rows if r.state != "pending") >= count:
            return rows
        await asyncio.sleep(0.05)
    return await outbox(app, booking_id)


def no_patient(received: Received) -> None:
    flat = str(received.body)
    for value in ("Durand", "Léa", "1987-04-12", "612345678", "otalgie"):
        assert value not in flat


async def test_a_booking_then_its_report_reach_the_sas_in_order(appointments_db: str) -> None:
    with running_sas() as sas:
        async with running_app(appointments_db, sas_appointment_endpoint=sas.url) as (client, app):
            booked = await book(client, app)
            (created,) = await sas.wait_for(1)
            assert (created.method, created.path) == ("POST", "/sas/fhir/Appointment")
            assert created.content_type == codes.FHIR_JSON
            check_appointment(created.body, SYSTEM)
            no_patient(created)
            assert created.body["status"] == "booked"
            assert created.body["identifier"] == [{"system": SYSTEM, "value": booked.booking_id}]
            operator = created.body["extension"][0]["valueReference"]["identifier"]
            assert operator["value"] == "3456780581/11242343"
            actor = created.body["participant"][0]["actor"]["identifier"]
            assert actor["value"] == "8" + booked.rpps

            reported = await client.patch(
                f"/v1/bookings/{booked.booking_id}",
                json={"status": "fulfilled"},
                headers=booked.practice,
            )
            assert reported.status_code == 200, reported.text
            updated = (await sas.wait_for(2))[1]
            assert updated.method == "PUT"
            assert updated.query == {"identifier": [f"{SYSTEM}|{booked.booking_id}"]}
            assert updated.body["status"] == "fulfilled"
            check_appointment(updated.body, SYSTEM)
            assert [r.state for r in await settled(app, booked.booking_id, 2)] == ["sent", "sent"]


async def test_a_plain_regulators_booking_is_not_sent(appointments_db: str) -> None:
    with running_sas() as sas:
        async with running_app(appointments_db, sas_appointment_endpoint=sas.url) as (client, app):
            booked = await book(client, app, sas_regulator=False)
            assert await outbox(app, booked.booking_id) == []
            assert await sas.wait_for(1, within=0.5) == []


async def test_a_cancelled_booking_is_sent_and_a_5xx_is_retried(appointments_db: str) -> None:
    answers: Callable[[int], int] = lambda seen: 503 if seen == 0 else 200  # noqa: E731
    with running_sas() as sas:
        sas.answer = answers
        async with running_app(appointments_db, sas_appointment_endpoint=sas.url) as (client, app):
            booked = await book(client, app)
            cancelled = await client.patch(
                f"/v1/bookings/{booked.booking_id}",
                json={"status": "cancelled"},
                headers=booked.practice,
            )
            assert cancelled.status_code == 200, cancelled.text
            received = await sas.wait_for(3)
            assert [(r.method, r.status) for r in received] == [
                ("POST", 503),
                ("POST", 200),
                ("PUT", 200),
            ]
            assert received[2].body["status"] == "cancelled"
            rows = await settled(app, booked.booking_id, 2)
            assert [(r.status, r.state, r.attempts) for r in rows] == [
                ("booked", "sent", 2),
                ("cancelled", "sent", 1),
            ]


async def test_a_4xx_refusal_is_failed_at_once_and_the_next_status_still_goes(
    appointments_db: str,
) -> None:
    with running_sas() as sas:
        sas.answer = lambda seen: 400 if seen == 0 else 200
        async with running_app(appointments_db, sas_appointment_endpoint=sas.url) as (client, app):
            booked = await book(client, app)
            await sas.wait_for(1)
            await client.patch(
                f"/v1/bookings/{booked.booking_id}",
                json={"status": "noshow"},
                headers=booked.practice,
            )
            received = await sas.wait_for(2)
            assert [(r.method, r.status) for r in received] == [("POST", 400), ("PUT", 200)]
            rows = await settled(app, booked.booking_id, 2)
            assert [(r.state, r.last_status_code) for r in rows] == [("failed", 400), ("sent", 200)]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)  # noqa: S603, S607


def make_pki(folder: Path) -> None:
    """A CA, a server certificate for localhost, a client certificate (all signed by the CA)."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)  # fmt: skip
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=folder)  # fmt: skip
        (folder / f"{name}.ext").write_text("subjectAltName=DNS:localhost\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                 "-out", f"{name}.pem", cwd=folder)  # fmt: skip


async def test_mutual_tls_sends_with_the_configured_certificate(
    appointments_db: str, tmp_path: Path
) -> None:
    make_pki(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    server.load_verify_locations(tmp_path / "ca.pem")
    server.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no connection
    with running_sas(server) as sas:
        # Without our certificate the handshake fails: retried, then failed, nothing received.
        async with running_app(
            appointments_db,
            sas_appointment_endpoint=sas.url,
            sas_ca_bundle_path=tmp_path / "ca.pem",
        ) as (client, app):
            refused = await book(client, app)
            rows = await settled(app, refused.booking_id, 1)
            assert [(r.state, r.attempts) for r in rows] == [("failed", 3)]
        assert sas.received == []
        async with running_app(
            appointments_db,
            sas_appointment_endpoint=sas.url,
            sas_ca_bundle_path=tmp_path / "ca.pem",
            sas_client_cert_path=tmp_path / "client.pem",
            sas_client_key_path=tmp_path / "client.key",
        ) as (client, app):
            booked = await book(client, app)
            (received,) = await sas.wait_for(1)
            assert received.body["identifier"][0]["value"] == booked.booking_id
            check_appointment(received.body, SYSTEM)


def test_a_key_without_its_certificate_is_refused() -> None:
    with pytest.raises(ValueError, match="SAS_CLIENT_CERT_PATH"):
        Settings(sas_client_key_path=Path("/tmp/k.pem"))  # noqa: S108


def test_the_receiver_type_is_a_sas() -> None:
    assert SasReceiver().answer(0) == 201
