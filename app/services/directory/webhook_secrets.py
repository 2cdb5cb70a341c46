"""Rotating a client's webhook signing secret without a delivery its receiver would refuse.

Rules: the new `whsec_…` secret is shown once, in the rotation's answer. For 24 h
(`OVERLAP_SECONDS`) every delivery is signed with the new secret and the previous one (Standard
Webhooks: space-separated signatures in `webhook-signature`), so the receiver switches secrets
when it wishes; after that only the new one signs. A second rotation within the overlap drops
the oldest secret at once (two secrets at most). Only an active client with a `webhook_url` has
a secret to rotate (else 409). The rotation and its audit event (never the secret) are one
statement.
"""

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Conflict
from app.core.security import new_webhook_secret
from app.schemas.api_client import WebhookSecretRotated
from app.services.audit import record as audit
from app.services.directory.api_clients import get_client
from app.services.directory.client_keys import ClientRevoked
from app.services.outbox.tail import written_with

OVERLAP_SECONDS = 24 * 3600


class NoWebhook(Conflict):
    slug, title = "no-webhook", "The client has no webhook endpoint"


_ROTATE = text(
    f"""
    WITH rotated AS (
        UPDATE api_clients c
        SET webhook_secret = :secret, previous_webhook_secret = c.webhook_secret,
            previous_webhook_secret_expires_at =
                statement_timestamp() + make_interval(secs => CAST(:overlap AS int))
        WHERE c.id = :client_id AND c.active AND c.webhook_url IS NOT NULL
        RETURNING c.id, c.previous_webhook_secret_expires_at
    ), {
        written_with(
            audit='''
        SELECT CAST(:actor_id AS uuid), CAST(:actor AS text), 'client.rotate_webhook_secret',
               'api_client', CAST(r.id AS text), CAST(NULL AS uuid),
               jsonb_build_object('previous_secret_expires_at',
                                  r.previous_webhook_secret_expires_at)
        FROM rotated r'''
        )
    }
    SELECT id, previous_webhook_secret_expires_at FROM rotated
    """  # noqa: S608 (built from constants only)
)


async def rotate_webhook_secret(
    session: AsyncSession, actor: Principal, client_id: uuid.UUID
) -> WebhookSecretRotated:
    """Give the client a new webhook secret; the previous one also signs for 24 h."""
    secret = new_webhook_secret()
    params = {
        "client_id": client_id,
        "secret": secret,
        "overlap": OVERLAP_SECONDS,
        **audit.actor_params(actor),
    }
    row = (await session.execute(_ROTATE, params)).one_or_none()
    if row is None:
        client = await get_client(session, client_id)  # 404 when unknown
        if not client.active:
            raise ClientRevoked(f"the API client {client_id} is revoked; create a new client")
        raise NoWebhook(
            f"the API client {client_id} has no webhook_url, so no secret to rotate",
            location="path.client_id",
        )
    return WebhookSecretRotated(
        client_id=row.id,
        webhook_secret=secret,
        previous_secret_expires_at=row.previous_webhook_secret_expires_at,
    )
