"""Webhook deliveries as the admin sees them, and a client's webhook health."""

import uuid
from datetime import datetime
from typing import Literal

from app.schemas.common import Output

DeliveryStatus = Literal["pending", "delivered", "failed"]


class DeliveryOut(Output):
    """One event on its way to one client's endpoint.

    `attempts`: attempts made (a replay starts again from 0); `next_attempt_at`: when the next
    one is due, only while `pending`; `last_status_code` is null when the last attempt got no
    answer (then `last_error` says why: timeout, refused target…).
    """

    id: int
    event_id: uuid.UUID
    type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class WebhookHealth(Output):
    """How a client's endpoint is doing, over the deliveries still kept.

    `status`: `disabled` once it answered 410 Gone (nothing is sent until
    `POST /v1/clients/{id}/webhook/enable`); else `failing` when a delivery failed within the
    last 24 hours or a pending one already had a failed attempt; else `delivered`.
    """

    status: Literal["delivered", "failing", "disabled"]
    disabled_at: datetime | None
    pending: int
    delivered: int
    failed: int
    last_delivered_at: datetime | None
