import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.core.auth import AdminDep
from app.core.db import SessionDep
from app.routers.params import Cursor, Limit
from app.schemas.audit_event import AuditEventOut
from app.schemas.common import Page
from app.schemas.text import Text
from app.services.audit import record as audit
from app.services.audit.trail import list_audit_events

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])


@router.get("")
async def get_audit_events(
    session: SessionDep,
    admin: AdminDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    resource_type: Annotated[Text | None, Query(max_length=100)] = None,
    resource_id: Annotated[Text | None, Query(max_length=200)] = None,
    actor_client_id: uuid.UUID | None = None,
    action: Annotated[Text | None, Query(max_length=100)] = None,
) -> Page[AuditEventOut]:
    items, next_cursor = await list_audit_events(
        session, cursor, limit, resource_type, resource_id, actor_client_id, action
    )
    # Reading the trail is itself an access worth recording.
    await audit.record(
        session, admin, "audit.read", "audit_event", None, detail={"count": len(items)}
    )
    return Page(items=[AuditEventOut.model_validate(e) for e in items], next_cursor=next_cursor)
