"""Idempotency records (issue 9): keyed digests that survive a key rotation, and expiry."""

import uuid

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import idempotency
from app.core.crypto import PatientCipher
from tests.dispatch_factories import new_client

OLD = PatientCipher(SecretStr("old key"))
ROTATED = PatientCipher(SecretStr("new key,old key"))
BODY = b'{"location":{"insee_code":"44109"},"medecin_traitant_rpps":"10001234567"}'


async def _claim(
    session: AsyncSession, cipher: PatientCipher, client_id: uuid.UUID, key: str
) -> idempotency.Replay | None:
    return await idempotency.claim(session, cipher, client_id, key, "POST", "/v1/x", BODY)


async def test_a_record_made_before_a_key_rotation_still_replays(session: AsyncSession) -> None:
    client_id, _ = await new_client(session, "admin")
    assert await _claim(session, OLD, client_id, "k") is None
    await idempotency.remember(session, OLD, client_id, "k", 201, {"id": "answer"})
    replay = await _claim(session, ROTATED, client_id, "k")
    assert replay == idempotency.Replay(201, {"id": "answer"})


async def test_expire_records_deletes_only_records_past_the_ttl(session: AsyncSession) -> None:
    client_id, _ = await new_client(session, "admin")
    for key in ("old", "young"):
        assert await _claim(session, OLD, client_id, key) is None
        await idempotency.remember(session, OLD, client_id, key, 201, {"key": key})
    await session.execute(
        text(
            "UPDATE idempotency_records SET created_at = now() - interval '2 hours' "
            "WHERE client_id = :c AND key = 'old'"
        ),
        {"c": client_id},
    )
    assert await idempotency.expire_records(session, ttl_seconds=3600) >= 1
    left = (
        await session.scalars(
            text("SELECT key FROM idempotency_records WHERE client_id = :c"), {"c": client_id}
        )
    ).all()
    assert left == ["young"]
