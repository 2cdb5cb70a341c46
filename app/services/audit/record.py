"""The audit trail: who did what to which resource. Never patient data, only ids and counts."""

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.models import AuditEvent


async def record(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    resource_type: str,
    resource_id: object | None = None,
    *,
    territory_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
    actor_label: str | None = None,
) -> None:
    """Append one audit event in the caller's transaction (so it exists iff the change does)."""
    await session.execute(
        insert(AuditEvent).values(
            actor_client_id=actor.client_id if actor else None,
            actor=actor.label if actor else (actor_label or "system"),
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id) if resource_id is not None else None,
            territory_id=territory_id,
            detail=detail or {},
        )
    )


# For statements that write their change and its audit event together (a data-modifying CTE):
# `INSERT_FROM` followed by a SELECT of these seven columns, in this order.
INSERT_FROM = (
    "INSERT INTO audit_events "
    "(actor_client_id, actor, action, resource_type, resource_id, territory_id, detail)"
)


def actor_params(actor: Principal) -> dict[str, object]:
    """The bound parameters `:actor_id` and `:actor` of a statement that audits with INSERT_FROM."""
    return {"actor_id": actor.client_id, "actor": actor.label}
