"""Idempotency-Key (IETF draft): the same key and body replay the first answer, for a while.

The claim row is inserted in the write's own transaction. A concurrent retry with the same key
blocks on the primary key until the first transaction ends: then it either replays the committed
answer or, if the first one rolled back, performs the write itself.

Rules (issue 9):
- A record keeps no request or answer in clear: the body is compared by a keyed digest (HMAC
  with a key derived from PATIENT_DATA_KEY, `PatientCipher.fingerprint`: a plain hash of an
  INSEE code and an RPPS, or of a name and a birth date, could be checked by trying them), and
  every answer is stored sealed, bound to its client and key (most derive from a patient: a
  dispatch's candidates and distances, a booking, an en-sus request).
- A record lives IDEMPOTENCY_TTL_SECONDS (24 h by default): the sweep deletes older ones
  (`expire_records`), and one that has outlived it and is not swept yet counts as absent, so a
  retry after the expiry acts as a new request.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import PatientCipher
from app.core.errors import IdempotencyKeyReused, InvalidInput

MAX_KEY_LENGTH = 255
# The response header of a replayed answer (the metrics do not count a replay again).
REPLAYED_HEADER = "Idempotent-Replayed"
DEFAULT_TTL_SECONDS = 24 * 3600

# A record older than the TTL is claimed afresh, in place (the row lock orders concurrent
# retries exactly like a first insert).
_CLAIM = text(
    """
    INSERT INTO idempotency_records AS r (client_id, key, method, path, body_digest)
    VALUES (:client_id, :key, :method, :path, :digest)
    ON CONFLICT (client_id, key) DO UPDATE
        SET method = EXCLUDED.method, path = EXCLUDED.path, body_digest = EXCLUDED.body_digest,
            status_code = NULL, response = NULL, created_at = now()
        WHERE r.created_at <= now() - make_interval(secs => CAST(:ttl AS float8))
    RETURNING key
    """
)

_FIRST = text(
    "SELECT method, path, body_digest, status_code, response FROM idempotency_records "
    "WHERE client_id = :client_id AND key = :key"
)

_EXPIRE = text(
    """
    WITH due AS (
        SELECT client_id, key FROM idempotency_records
        WHERE created_at <= now() - make_interval(secs => CAST(:ttl AS float8))
        ORDER BY created_at LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ), deleted AS (
        DELETE FROM idempotency_records r USING due
        WHERE r.client_id = due.client_id AND r.key = due.key
        RETURNING 1
    )
    SELECT count(*) FROM deleted
    """
)


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any


def _context(client_id: uuid.UUID, key: str) -> str:
    return f"idempotency_records.response:{client_id}:{key}"


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


async def claim(
    session: AsyncSession,
    cipher: PatientCipher,
    client_id: uuid.UUID,
    key: str,
    method: str,
    path: str,
    canonical_body: bytes,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
) -> Replay | None:
    """Claim `key` for this write, or return the first answer given for it (module rules)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters", location="Idempotency-Key"
        )
    claimed = await session.execute(
        _CLAIM,
        {
            "client_id": client_id,
            "key": key,
            "method": method,
            "path": path,
            "digest": cipher.fingerprint(canonical_body).hex(),
            "ttl": ttl_seconds,
        },
    )
    if claimed.first() is not None:
        return None
    row = (await session.execute(_FIRST, {"client_id": client_id, "key": key})).one()
    if (row.method, row.path) != (method, path) or not cipher.fingerprint_matches(
        canonical_body, bytes.fromhex(row.body_digest)
    ):
        raise IdempotencyKeyReused(
            "this Idempotency-Key was first used with another request body or endpoint",
            location="Idempotency-Key",
        )
    return Replay(
        status_code=row.status_code, body=cipher.open_json(row.response, _context(client_id, key))
    )


async def remember(
    session: AsyncSession,
    cipher: PatientCipher,
    client_id: uuid.UUID,
    key: str,
    status_code: int,
    body: Any,
) -> None:
    """Store the answer of a claimed write, sealed, in the same transaction as the write."""
    await session.execute(
        text(
            "UPDATE idempotency_records SET status_code = :status, response = :sealed "
            "WHERE client_id = :client_id AND key = :key"
        ),
        {
            "status": status_code,
            "sealed": cipher.seal_json(body, _context(client_id, key)),
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


async def expire_records(
    session: AsyncSession, ttl_seconds: float = DEFAULT_TTL_SECONDS, batch: int = 500
) -> int:
    """Delete up to `batch` records older than `ttl_seconds` (rows leased with SKIP LOCKED)."""
    deleted: int = (
        await session.execute(_EXPIRE, {"ttl": ttl_seconds, "batch": batch})
    ).scalar_one()
    return deleted
