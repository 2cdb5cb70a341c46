"""Webhook delivery: every outbox event to its recipient's endpoint, signed, retried, in order.

Rules owned here:
- a delivery (`models.WebhookDelivery`, written with its event by the trigger of migration 0008)
  is leased by one worker at a time (`sql.LEASE`, FOR UPDATE SKIP LOCKED), so any number of app
  processes deliver each event once at a time;
- per client and ordering key (the slot, or the en-sus request), an event leaves only once the
  earlier ones were delivered or failed;
- `schedule`: when the next attempt is due (Standard Webhooks delays with jitter, Retry-After);
- a private, loopback or link-local target is refused unless allowed (`app.core.webhook_targets`,
  the same rule as at registration, checked again before each send);
- `sender`: one signed attempt (Standard Webhooks headers), bounded in time and in what it reads;
- `worker`: the lifespan task, woken by LISTEN/NOTIFY, with a poll as the fallback.
"""
