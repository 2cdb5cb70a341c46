"""Idempotency-Key (IETF draft): the same key and body replay the first answer.

The claim row is inserted in the write's own transaction. A concurrent retry with the same key
blocks on the primary key until the first transaction ends: then it either replays the committed
answer or, if the first one rolled back, performs the write itself.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import IdempotencyKeyReused, InvalidInput

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any


def canonical_json(data: Any) -> bytes:
    """`data` as JSON with sorted keys, whatever JSON a client could send.

    orjson refuses integers beyond 64 bits and lone surrogates, both valid JSON text (a raw slot
    item may hold them): those bodies fall back to the standard library, which takes any value
    that `json.loads` made and escapes what is not valid Unicode.
    """
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def storable_answer(content: Any) -> Any:
    """`content` as jsonb can keep it: jsonb refuses U+0000, which an answer may quote from the
    request (a per-item message naming the faulty character). Sent as it is remembered."""
    if b"\\u0000" in orjson.dumps(content):
        return _without_nul(content)
    return content


def body_digest(canonical_body: bytes) -> str:
    return hashlib.sha256(canonical_body).hexdigest()


async def claim(
    session: AsyncSession,
    client_id: uuid.UUID,
    key: str,
    method: str,
    path: str,
    canonical_body: bytes,
) -> Replay | None:
    """Claim `key` for this write, or return the first answer given for it."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters", location="Idempotency-Key"
        )
    digest = body_digest(canonical_body)
    claimed = await session.execute(
        text(
            """
            INSERT INTO idempotency_records (client_id, key, method, path, body_sha256)
            VALUES (:client_id, :key, :method, :path, :digest)
            ON CONFLICT (client_id, key) DO NOTHING
            RETURNING key
            """
        ),
        {"client_id": client_id, "key": key, "method": method, "path": path, "digest": digest},
    )
    if claimed.first() is not None:
        return None
    row = (
        await session.execute(
            text(
                "SELECT method, path, body_sha256, status_code, response FROM idempotency_records "
                "WHERE client_id = :client_id AND key = :key"
            ),
            {"client_id": client_id, "key": key},
        )
    ).one()
    if (row.method, row.path, row.body_sha256) != (method, path, digest):
        raise IdempotencyKeyReused(
            "this Idempotency-Key was first used with another request body or endpoint",
            location="Idempotency-Key",
        )
    return Replay(status_code=row.status_code, body=row.response)


async def remember(
    session: AsyncSession, client_id: uuid.UUID, key: str, status_code: int, body: Any
) -> None:
    """Store the answer of a claimed write, in the same transaction as the write."""
    await session.execute(
        text(
            "UPDATE idempotency_records SET status_code = :status, response = CAST(:body AS jsonb) "
            "WHERE client_id = :client_id AND key = :key"
        ),
        {
            "status": status_code,
            "body": orjson.dumps(body).decode(),
            "client_id": client_id,
            "key": key,
        },
    )


async def forget(session: AsyncSession, client_id: uuid.UUID, key: str) -> None:
    """Free a claimed key whose write answered a refusal that commits (no answer remembered)."""
    await session.execute(
        text("DELETE FROM idempotency_records WHERE client_id = :client_id AND key = :key"),
        {"client_id": client_id, "key": key},
    )
