"""Rotating a client's webhook secret (`POST /v1/clients/{id}/webhook-secret`), and who may
register a webhook."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import MakeKey, bearer
from tests.factories import create_territory
from tests.routers.test_errors import assert_problem

Headers = dict[str, str]
URL = "https://93.184.215.14/hooks/snp"


async def _rotate(client: httpx.AsyncClient, auth: Headers, client_id: object) -> httpx.Response:
    return await client.post(f"/v1/clients/{client_id}/webhook-secret", headers=auth)


async def _secrets(session: AsyncSession, client_id: uuid.UUID) -> tuple[str, str | None, datetime]:
    row = (
        await session.execute(
            text(
                "SELECT webhook_secret, previous_webhook_secret, "
                "previous_webhook_secret_expires_at FROM api_clients WHERE id = :id"
            ),
            {"id": client_id},
        )
    ).one()
    return row[0], row[1], row[2]


async def test_rotation_answers_the_new_secret_once_and_keeps_the_old_one_for_a_day(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey, session: AsyncSession
) -> None:
    _, client_id = await make_key("practice_software", webhook_url=URL)
    old, _, _ = await _secrets(session, client_id)
    before = datetime.now(UTC)
    response = await _rotate(client, admin_headers, client_id)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    new = answer["webhook_secret"]
    assert new.startswith("whsec_")
    assert new != old
    ends = datetime.fromisoformat(answer["previous_secret_expires_at"])
    assert before + timedelta(hours=24) <= ends <= datetime.now(UTC) + timedelta(hours=24)
    assert await _secrets(session, client_id) == (new, old, ends)
    shown = await client.get(f"/v1/clients/{client_id}", headers=admin_headers)
    assert new not in shown.text
    audited = (
        await session.execute(
            text(
                "SELECT detail::text FROM audit_events "
                "WHERE action = 'client.rotate_webhook_secret' AND resource_id = :id"
            ),
            {"id": str(client_id)},
        )
    ).scalar_one()
    assert new not in audited
    assert old not in audited


async def test_a_second_rotation_drops_the_oldest_secret_at_once(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey, session: AsyncSession
) -> None:
    _, client_id = await make_key(
        "regulator", webhook_url=URL, territory_ids=[await _territory(client, admin_headers)]
    )
    first = (await _rotate(client, admin_headers, client_id)).json()["webhook_secret"]
    second = (await _rotate(client, admin_headers, client_id)).json()["webhook_secret"]
    current, previous, _ = await _secrets(session, client_id)
    assert (current, previous) == (second, first)


async def _territory(client: httpx.AsyncClient, admin_headers: Headers) -> uuid.UUID:
    return uuid.UUID((await create_territory(client, admin_headers))["id"])


async def test_rotation_refusals_name_why(
    client: httpx.AsyncClient, admin_headers: Headers, make_key: MakeKey
) -> None:
    _, without = await make_key("practice_software")
    assert_problem(await _rotate(client, admin_headers, without), 409, "no-webhook")
    assert_problem(await _rotate(client, admin_headers, uuid.uuid4()), 404, "not-found")
    _, revoked = await make_key("practice_software", webhook_url=URL)
    assert (await client.delete(f"/v1/clients/{revoked}", headers=admin_headers)).status_code == 204
    assert_problem(await _rotate(client, admin_headers, revoked), 409, "client-revoked")
    practice_key, practice_id = await make_key("practice_software", webhook_url=URL)
    assert_problem(await _rotate(client, bearer(practice_key), practice_id), 403, "forbidden")


async def test_a_regulator_may_register_a_webhook_an_sas_platform_may_not(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    territory = str(await _territory(client, admin_headers))
    body = {
        "name": "SAMU 44",
        "role": "regulator",
        "territory_ids": [territory],
        "webhook_url": URL,
    }
    created = await client.post("/v1/clients", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["webhook_secret"].startswith("whsec_")
    refused = await client.post(
        "/v1/clients", json={**body, "role": "sas_platform"}, headers=admin_headers
    )
    assert assert_problem(refused, 422, "invalid-input")["location"] == "body.webhook_url"
