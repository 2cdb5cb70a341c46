from typing import Annotated

from fastapi import APIRouter, Path

from app.core.auth import AdminDep
from app.core.db import SessionDep
from app.core.openapi import problems
from app.schemas.webhook import DeliveryOut
from app.services.webhooks import admin as webhook_admin

router = APIRouter(prefix="/v1/deliveries", tags=["clients"])

DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a delivery's `id`")]


@router.post("/{delivery_id}/replay", responses=problems(409))
async def replay_delivery(
    delivery_id: DeliveryId, session: SessionDep, admin: AdminDep
) -> DeliveryOut:
    """Send a failed or delivered delivery again, due now, its attempts counted from 0 (409 when
    it is pending, or the endpoint is disabled, revoked or has no URL). Audited."""
    return await webhook_admin.replay(session, admin, delivery_id)
