"""The statements of the SAS appointment outbox: lease due messages, record the attempts.

`LEASE` takes the due messages no other worker holds (FOR UPDATE SKIP LOCKED, then
`leased_until`, so no row stays locked while the request is in flight), only the earliest
pending one of each booking (the SAS hears a booking's statuses in order), counts an attempt,
and returns what the Appointment is built from. `RECORD` applies only to the attempt it
leased (`attempts` fences a late answer after the lease lapsed and another worker took over).
"""

from sqlalchemy import text

LEASE = text(
    """
    WITH due AS (
        SELECT a.id FROM sas_appointments a
        WHERE a.state = 'pending' AND a.next_attempt_at <= now()
          AND (a.leased_until IS NULL OR a.leased_until <= now())
          AND NOT EXISTS (
              SELECT 1 FROM sas_appointments earlier
              WHERE earlier.state = 'pending' AND earlier.booking_id = a.booking_id
                AND earlier.id < a.id)
        ORDER BY a.next_attempt_at, a.id
        LIMIT :batch
        FOR UPDATE OF a SKIP LOCKED
    ), leased AS (
        UPDATE sas_appointments a
        SET attempts = a.attempts + 1,
            leased_until = now() + make_interval(secs => CAST(:lease_seconds AS float8))
        FROM due WHERE a.id = due.id
        RETURNING a.id, a.attempts, a.booking_id, a.status, a.operator_system, a.operator_value
    )
    SELECT l.id, l.attempts, l.booking_id, l.status, l.operator_system, l.operator_value,
           s.start_at, s.end_at, b.booked_at, si.timezone, p.rpps,
           NOT EXISTS (SELECT 1 FROM sas_appointments x
                       WHERE x.booking_id = l.booking_id AND x.id < l.id) AS first
    FROM leased l
    JOIN bookings b ON b.id = l.booking_id
    JOIN slots s ON s.id = b.slot_id
    JOIN sites si ON si.id = s.site_id
    JOIN professionals p ON p.id = s.professional_id
    ORDER BY l.id
    """
)

RECORD = text(
    """
    UPDATE sas_appointments a
    SET state = r.state, leased_until = NULL, last_status_code = r.code, last_error = r.error,
        next_attempt_at = CASE WHEN r.state = 'pending'
                               THEN now() + make_interval(secs => r.delay)
                               ELSE a.next_attempt_at END,
        sent_at = CASE WHEN r.state = 'sent' THEN now() END
    FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[]), CAST(:states AS text[]),
                CAST(:codes AS int[]), CAST(:errors AS text[]), CAST(:delays AS float8[]))
         AS r(id, attempt, state, code, error, delay)
    WHERE a.id = r.id AND a.attempts = r.attempt AND a.state = 'pending'
    """
)

NEXT_DUE = text(
    """
    SELECT EXTRACT(EPOCH FROM min(greatest(next_attempt_at, coalesce(leased_until, now())))
                   - now())
    FROM sas_appointments WHERE state = 'pending'
    """
)
