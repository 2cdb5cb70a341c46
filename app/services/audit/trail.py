"""Reading the audit trail (admin), newest first."""

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import decode_id_cursor, encode_id_cursor
from app.models import AuditEvent


async def list_audit_events(
    session: AsyncSession,
    cursor: str | None,
    limit: int,
    resource_type: str | None = None,
    resource_id: str | None = None,
    actor_client_id: uuid.UUID | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[AuditEvent], str | None]:
    """The events matching every filter given; `actor` is the label (`admin:Name`), `since`
    and `until` bound `occurred_at` (until excluded)."""
    query = select(AuditEvent)
    if cursor:
        query = query.where(AuditEvent.id < decode_id_cursor(cursor))
    if resource_type:
        query = query.where(AuditEvent.resource_type == resource_type)
    if resource_id:
        query = query.where(AuditEvent.resource_id == resource_id)
    if actor_client_id:
        query = query.where(AuditEvent.actor_client_id == actor_client_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if since:
        query = query.where(AuditEvent.occurred_at >= since)
    if until:
        query = query.where(AuditEvent.occurred_at < until)
    rows = (await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit + 1))).all()
    items = list(rows[:limit])
    return items, (encode_id_cursor(items[-1].id) if len(rows) > limit else None)
