"""The delivery statements: lease the due deliveries, record the attempts, disable a gone endpoint.

`LEASE` takes, in one statement, the due deliveries that no other worker holds (FOR UPDATE SKIP
LOCKED, then `leased_until`, so the row is not held locked while the request is in flight) and
that are the earliest pending one of their client and ordering key; each lease counts an
attempt, and `RECORD` only applies to the attempt it leased (`attempts` fences a result that
comes back after its lease lapsed and another worker took the delivery over).
"""

from sqlalchemy import text

from app.services.outbox.bodies import EVENT_COLUMNS, PATIENT_JOIN
from app.services.outbox.tail import written_with

# Each leased delivery with its endpoint, the secrets that sign it (the current one, and the
# previous one while a rotation's overlap lasts) and its event's columns, from which
# `outbox.bodies.event_body` builds the body (the feed's builder: the same body).
LEASE = text(
    f"""
    WITH due AS (
        SELECT d.id FROM webhook_deliveries d
        JOIN api_clients c ON c.id = d.client_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= now()
          AND (d.leased_until IS NULL OR d.leased_until <= now())
          AND c.webhook_url IS NOT NULL AND c.active AND c.webhook_disabled_at IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM webhook_deliveries earlier
              WHERE earlier.status = 'pending' AND earlier.client_id = d.client_id
                AND earlier.ordering_key = d.ordering_key
                AND earlier.outbox_event_id < d.outbox_event_id)
        ORDER BY d.next_attempt_at, d.id
        LIMIT :batch
        FOR UPDATE OF d SKIP LOCKED
    ), leased AS (
        UPDATE webhook_deliveries d
        SET attempts = d.attempts + 1, last_attempt_at = now(),
            leased_until = now() + make_interval(secs => CAST(:lease_seconds AS float8))
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.attempts, d.client_id, d.outbox_event_id
    )
    SELECT l.id, l.attempts, l.client_id, c.webhook_url AS url, c.webhook_secret AS secret,
           CASE WHEN c.previous_webhook_secret_expires_at > now()
                THEN c.previous_webhook_secret END AS previous_secret,
           {EVENT_COLUMNS}
    FROM leased l
    JOIN api_clients c ON c.id = l.client_id
    JOIN outbox_events e ON e.id = l.outbox_event_id
    {PATIENT_JOIN}
    ORDER BY l.outbox_event_id
    """  # noqa: S608 (built from constants only)
)

RECORD = text(
    """
    UPDATE webhook_deliveries d
    SET status = r.status, leased_until = NULL, last_status_code = r.code, last_error = r.error,
        next_attempt_at = CASE WHEN r.status = 'pending'
                               THEN now() + make_interval(secs => r.delay)
                               ELSE d.next_attempt_at END,
        delivered_at = CASE WHEN r.status = 'delivered' THEN now() END
    FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[]), CAST(:statuses AS text[]),
                CAST(:codes AS int[]), CAST(:errors AS text[]), CAST(:delays AS float8[]))
         AS r(id, attempt, status, code, error, delay)
    WHERE d.id = r.id AND d.attempts = r.attempt AND d.status = 'pending'
    """
)

_DISABLE_TAIL = written_with(
    audit="""
        SELECT CAST(NULL AS uuid), 'system:webhooks', 'client.webhook_disable', 'api_client',
               CAST(g.id AS text), CAST(NULL AS uuid), jsonb_build_object('status_code', 410)
        FROM gone g
    """
)

# An endpoint that answered 410 Gone: no more deliveries; those still pending fail, visibly.
DISABLE = text(
    f"""
    WITH gone AS (
        UPDATE api_clients SET webhook_disabled_at = now()
        WHERE id = ANY(CAST(:client_ids AS uuid[])) AND webhook_disabled_at IS NULL
        RETURNING id
    ), dropped AS (
        UPDATE webhook_deliveries d
        SET status = 'failed', leased_until = NULL,
            last_error = 'not sent: the endpoint answered 410 Gone and was disabled'
        WHERE d.client_id = ANY(CAST(:client_ids AS uuid[])) AND d.status = 'pending'
        RETURNING d.id
    ), {_DISABLE_TAIL}
    SELECT count(*) FROM dropped
    """  # noqa: S608 (built from this module's constants only)
)

# Seconds until the next retry falls due (NULL: none scheduled), so a worker wakes for it.
NEXT_DUE = text(
    """
    SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - now()) FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at > now()
    """
)
