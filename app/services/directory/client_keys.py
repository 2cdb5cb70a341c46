"""Rotating an API client's key without changing the client (its id, scope, slots, events).

Rules: the new key is shown once, in the rotation's answer. The previous key is refused at once
(`grace_seconds` 0, the default) or keeps working until the grace period ends (at most 24 h);
a second rotation during a grace period drops the older key at once, so a client has at most
two working keys. A revoked client's key cannot be rotated (revocation is final). Other
processes see the change within the principal cache's TTL (`core.auth.PrincipalCache`); the
process that rotates forgets the client at once. The rotation and its audit event are one
statement.
"""

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Conflict
from app.core.security import new_api_key
from app.schemas.api_client import ApiClientRotated, KeyRotation
from app.services.audit import record as audit
from app.services.directory.api_clients import describe, get_client
from app.services.outbox.tail import written_with


class ClientRevoked(Conflict):
    slug, title = "client-revoked", "The client is revoked"


# SET sees the row as it was: the current key becomes the previous one.
_ROTATE = text(
    f"""
    WITH rotated AS (
        UPDATE api_clients c
        SET key_prefix = :prefix, key_hash = :key_hash,
            previous_key_hash = CASE WHEN CAST(:grace AS int) > 0 THEN c.key_hash END,
            previous_key_expires_at = CASE WHEN CAST(:grace AS int) > 0
                THEN statement_timestamp() + make_interval(secs => CAST(:grace AS int)) END
        WHERE c.id = :client_id AND c.active
        RETURNING c.id, c.previous_key_expires_at
    ), {
        written_with(
            audit='''
        SELECT CAST(:actor_id AS uuid), CAST(:actor AS text), 'client.rotate_key', 'api_client',
               CAST(r.id AS text), CAST(NULL AS uuid),
               jsonb_build_object('grace_seconds', CAST(:grace AS int),
                                  'previous_key_expires_at', r.previous_key_expires_at)
        FROM rotated r'''
        )
    }
    SELECT id, previous_key_expires_at FROM rotated
    """  # noqa: S608 (built from constants only)
)


async def rotate_key(
    session: AsyncSession, actor: Principal, client_id: uuid.UUID, rotation: KeyRotation
) -> ApiClientRotated:
    """Give the client a new key; the previous one works for `grace_seconds` more."""
    key, prefix, key_hash = new_api_key()
    params = {
        "client_id": client_id,
        "prefix": prefix,
        "key_hash": key_hash,
        "grace": rotation.grace_seconds,
        **audit.actor_params(actor),
    }
    row = (await session.execute(_ROTATE, params)).one_or_none()
    if row is None:
        await get_client(session, client_id)  # 404 when unknown
        raise ClientRevoked(f"the API client {client_id} is revoked; create a new client")
    client = await get_client(session, client_id)
    await session.refresh(client)  # the statement changed the row under the ORM
    out = await describe(session, client)
    return ApiClientRotated(
        **out.model_dump(),
        api_key=key,
        previous_key_expires_at=row.previous_key_expires_at,
    )
