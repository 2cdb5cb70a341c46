"""Reading the audit trail (admin), newest first."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidInput
from app.models import AuditEvent

_MAX_BIGINT = 2**63 - 1


async def list_audit_events(
    session: AsyncSession,
    cursor: str | None,
    limit: int,
    resource_type: str | None = None,
    resource_id: str | None = None,
    actor_client_id: uuid.UUID | None = None,
    action: str | None = None,
) -> tuple[list[AuditEvent], str | None]:
    query = select(AuditEvent)
    if cursor:
        # An event id (bigint): anything else would reach the database and fail there.
        if not (cursor.isascii() and cursor.isdigit() and int(cursor) <= _MAX_BIGINT):
            raise InvalidInput("cursor: not a cursor returned by this list", location="cursor")
        query = query.where(AuditEvent.id < int(cursor))
    if resource_type:
        query = query.where(AuditEvent.resource_type == resource_type)
    if resource_id:
        query = query.where(AuditEvent.resource_id == resource_id)
    if actor_client_id:
        query = query.where(AuditEvent.actor_client_id == actor_client_id)
    if action:
        query = query.where(AuditEvent.action == action)
    rows = (await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit + 1))).all()
    items = list(rows[:limit])
    return items, (str(items[-1].id) if len(rows) > limit else None)
