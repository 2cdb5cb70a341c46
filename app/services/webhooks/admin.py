"""The admin's view of webhook deliveries: list them, replay one, a client's health, re-enable.

Rules: a replay puts a failed or delivered delivery back to `pending`, due at once, with its
attempts counted from 0 again (the whole retry schedule applies) and its last answer kept until
the next attempt; the per-slot order still holds for it (a later event of its slot that is
pending waits for it), but it may reach the receiver after later events already delivered (the
receiver sees the same `webhook-id` as before). A delivery is replayed only to an endpoint that
takes deliveries: 409 when the client has no webhook URL, is revoked, or is disabled (re-enable
it first). Enabling clears `webhook_disabled_at`; the deliveries it failed stay failed (replay
them one by one) and the events written while it was disabled have no delivery (the feed has
them). Every replay and enable is audited.
"""

import uuid
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.auth import Principal
from app.core.errors import Conflict, NotFound
from app.core.pagination import decode_id_cursor, encode_id_cursor
from app.models import ApiClient
from app.schemas.webhook import DeliveryOut, DeliveryStatus, WebhookHealth
from app.services.audit import record as audit

# A failed delivery this recent makes the endpoint `failing`.
FAILING_WINDOW = timedelta(hours=24)

_COLUMNS = """
    d.id, e.event_id, e.type, d.status, d.attempts, d.last_status_code, d.last_error,
    d.last_attempt_at, CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
    d.delivered_at, d.created_at
"""

_LIST = text(
    f"""
    SELECT {_COLUMNS}
    FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.outbox_event_id
    WHERE d.client_id = :client_id
      AND (CAST(:status AS text) IS NULL OR d.status = CAST(:status AS text))
      AND (CAST(:before AS bigint) IS NULL OR d.id < CAST(:before AS bigint))
    ORDER BY d.id DESC
    LIMIT :limit
    """  # noqa: S608 (this module's constants only)
)


async def _client(session: AsyncSession, client_id: uuid.UUID) -> ApiClient:
    client = await session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"no API client {client_id}")
    return client


async def list_deliveries(
    session: AsyncSession,
    client_id: uuid.UUID,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[DeliveryOut], str | None]:
    """The client's deliveries still kept, newest first, optionally of one status."""
    before = decode_id_cursor(cursor) if cursor else None
    await _client(session, client_id)
    rows = (
        await session.execute(
            _LIST,
            {"client_id": client_id, "status": status, "before": before, "limit": limit + 1},
        )
    ).all()
    items = [DeliveryOut.model_validate(r._mapping) for r in rows[:limit]]
    return items, (encode_id_cursor(items[-1].id) if len(rows) > limit else None)


_REPLAY = text(
    f"""
    WITH replayed AS (
        UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
                                      leased_until = NULL, delivered_at = NULL
        WHERE id = :id AND status IN ('failed', 'delivered')
        RETURNING *
    )
    SELECT {_COLUMNS} FROM replayed d JOIN outbox_events e ON e.id = d.outbox_event_id
    """  # noqa: S608 (this module's constants only)
)


async def replay(
    session: AsyncSession,
    actor: Principal,
    delivery_id: int,
    *,
    client_id: uuid.UUID | None = None,
) -> DeliveryOut:
    """Send a failed or delivered delivery again, from its first attempt; 404 (also when it is
    not `client_id`'s, if given), or 409."""
    found = (
        await session.execute(
            text(
                "SELECT d.status, d.client_id FROM webhook_deliveries d WHERE d.id = :id FOR UPDATE"
            ),
            {"id": delivery_id},
        )
    ).one_or_none()
    if found is None or (client_id is not None and found.client_id != client_id):
        raise NotFound(f"no webhook delivery {delivery_id}")
    client = await _client(session, found.client_id)
    if found.status == "pending":
        raise Conflict(f"delivery {delivery_id} is already pending")
    if client.webhook_url is None or not client.active:
        raise Conflict(f"client {client.id} takes no webhooks (no URL, or revoked)")
    if client.webhook_disabled_at is not None:
        raise Conflict(
            f"client {client.id}'s endpoint is disabled (it answered 410 Gone); "
            f"enable it first: POST /v1/clients/{client.id}/webhook/enable"
        )
    row = (await session.execute(_REPLAY, {"id": delivery_id})).one()
    await session.execute(text("SELECT pg_notify('webhook_deliveries', '')"))  # at commit
    await audit.record(
        session,
        actor,
        "webhook_delivery.replay",
        "webhook_delivery",
        delivery_id,
        detail={"client_id": str(client.id), "was": found.status},
    )
    return DeliveryOut.model_validate(row._mapping)


_HEALTH = text(
    """
    SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
           count(*) FILTER (WHERE status = 'delivered') AS delivered,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           coalesce(bool_or(status = 'failed' AND coalesce(last_attempt_at, created_at)
                                                   > now() - CAST(:window AS interval)
                            OR status = 'pending' AND last_error IS NOT NULL), false) AS failing,
           max(delivered_at) AS last_delivered_at
    FROM webhook_deliveries WHERE client_id = :client_id
    """
)


async def webhook_health(session: AsyncSession, client: ApiClient) -> WebhookHealth | None:
    """The endpoint's health (see `WebhookHealth`), or None: the client has no webhook URL."""
    if client.webhook_url is None:
        return None
    row = (await session.execute(_HEALTH, {"client_id": client.id, "window": FAILING_WINDOW})).one()
    status = (
        "disabled"
        if client.webhook_disabled_at is not None
        else "failing"
        if row.failing
        else "delivered"
    )
    return WebhookHealth(
        status=status,
        disabled_at=client.webhook_disabled_at,
        pending=row.pending,
        delivered=row.delivered,
        failed=row.failed,
        last_delivered_at=row.last_delivered_at,
    )


async def enable_webhook(
    session: AsyncSession, actor: Principal, client_id: uuid.UUID
) -> WebhookHealth:
    """Take deliveries again after a 410 (a no-op when not disabled); 409 without a URL."""
    client = await _client(session, client_id)
    if client.webhook_url is None:
        raise Conflict(f"client {client_id} has no webhook URL")
    was = client.webhook_disabled_at
    if was is not None:
        client.webhook_disabled_at = None
        await session.flush()
        await audit.record(
            session,
            actor,
            "client.webhook_enable",
            "api_client",
            client_id,
            detail={"disabled_at": was.isoformat()},
        )
    health = await webhook_health(session, client)
    if health is None:  # a URL was checked above
        raise Conflict(f"client {client_id} has no webhook URL")
    return health


async def oldest_undelivered_seconds(engine: AsyncEngine) -> float:
    """Age of the oldest pending delivery to an endpoint that takes them (0: none)."""
    async with engine.connect() as conn:
        age = await conn.scalar(
            text(
                "SELECT EXTRACT(EPOCH FROM now() - min(d.created_at)) FROM webhook_deliveries d "
                "JOIN api_clients c ON c.id = d.client_id "
                "WHERE d.status = 'pending' AND c.active AND c.webhook_disabled_at IS NULL "
                "AND c.webhook_url IS NOT NULL"
            )
        )
    return float(age or 0.0)
