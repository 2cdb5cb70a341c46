"""Events: the body of a webhook and an item of the feed, the same for both."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas.common import Output


class EventOut(Output):
    """An event as one client receives it (`webhook-id` is its `id`)."""

    id: uuid.UUID = Field(description="the event's id, stable across retries (`webhook-id`)")
    type: str = Field(
        description="slot.created|updated|cancelled|transferred, "
        "hold.created|renewed|released|expired, booking.created|cancelled|fulfilled|noshow, "
        "request.created|accepted|expired"
    )
    occurred_at: datetime
    data: dict[str, Any] = Field(
        description="ids, statuses and times; the slot also by the `external_id` its practice "
        "software knows. `booking.created` carries `patient` and `reason` only to the slot's "
        "practice software and the regulator who booked"
    )


class EventFeed(Output):
    """`GET /v1/events`: the client's events after a cursor, in commit order."""

    items: list[EventOut]
    next_after: str | None = Field(
        description="pass as `after` for the next page (the same cursor again when the page was "
        "empty: poll with it later)"
    )
    retained_since: datetime = Field(
        description="events older than this are no longer served (EVENT_RETENTION_DAYS)"
    )
