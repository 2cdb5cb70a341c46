import uuid
from datetime import datetime
from typing import Any

from app.schemas.common import Output


class AuditEventOut(Output):
    id: int
    occurred_at: datetime
    actor_client_id: uuid.UUID | None
    actor: str
    action: str
    resource_type: str
    resource_id: str | None
    territory_id: uuid.UUID | None
    detail: dict[str, Any]
