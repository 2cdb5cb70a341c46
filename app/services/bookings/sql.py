"""The bookings' statements: book a hold, move a booking between statuses, read one.

Each write is one statement with its events (to the slot's practice software and to the
regulator of the booking, one row each; never the patient, joined when a body is built by
`outbox.bodies`) and audit event; like every write path it locks
the slot row before its bookings row. Times are the statement's (`statement_timestamp()`), not
the transaction's start (`now()`): whether a hold is still live is decided when it is booked.
"""

from sqlalchemy import text

from app.services.outbox.tail import to_each, written_with

# The columns every statement below answers with (see `_out`).
ANSWER = """
    p.id AS slot_id, p.external_id, p.start_at, p.end_at, p.modality, p.professional_id,
    p.site_id, p.source_client_id, p.territory_id,
    w.id, w.status, w.booked_at, w.updated_at
"""
SLOT_COLUMNS = (
    "s.id, s.external_id, s.source_client_id, s.site_id, s.professional_id, "
    "s.start_at, s.end_at, s.modality"
)
EVENT_DATA = (
    "jsonb_build_object('booking_id', w.id, 'slot_id', p.id, 'external_id', p.external_id, "
    "'status', w.status, 'start', p.start_at, 'end', p.end_at, 'modality', p.modality)"
)

BOOK_TAIL = written_with(
    events=f"""
        SELECT 'booking.created', r.recipient_client_id, p.territory_id, {EVENT_DATA}
        FROM written w CROSS JOIN place p {to_each("p.source_client_id", ":actor_id")}
    """,  # noqa: S608 (built from this module's constants only)
    audit="""
        SELECT :actor_id, :actor, 'booking.create', 'booking', CAST(w.id AS text), p.territory_id,
               jsonb_build_object('slot_id', p.id)
        FROM written w CROSS JOIN place p
    """,
)

BOOK = text(
    f"""
    WITH mine AS (
        SELECT b.id, b.slot_id, b.expires_at FROM bookings b
        WHERE b.id = :hold_id AND b.regulator_client_id = :actor_id
          AND b.status = 'held' AND b.expires_at > statement_timestamp()
    ), slot AS (
        UPDATE slots s SET status = 'booked', hold_expires_at = NULL,
                           version = s.version + 1, updated_at = statement_timestamp()
        FROM mine
        WHERE s.id = mine.slot_id AND s.status = 'held' AND s.hold_expires_at = mine.expires_at
        RETURNING {SLOT_COLUMNS}
    ), written AS (
        UPDATE bookings b SET status = 'booked', patient = :patient, idempotency_key = :key,
                              booked_at = statement_timestamp(),
                              updated_at = statement_timestamp(),
                              -- The indicators' fact, in clear (the RPPS is sealed above).
                              medecin_traitant_booked = CASE
                                  WHEN CAST(:mt_rpps AS text) IS NOT NULL THEN
                                      p.rpps = CAST(:mt_rpps AS text) END
        FROM slot, mine, professionals p
        WHERE b.id = mine.id AND b.status = 'held' AND p.id = slot.professional_id
        RETURNING b.id, b.status, b.booked_at, b.updated_at
    ), place AS (
        SELECT slot.*, si.territory_id FROM slot JOIN sites si ON si.id = slot.site_id
    ), {BOOK_TAIL}
    SELECT {ANSWER} FROM place p LEFT JOIN written w ON true
    """  # noqa: S608 (built from this module's constants only)
)

# `:from_status` → `:to_status`; the slot becomes `:slot_status` (NULL: unchanged). `:who` picks
# the owner check: the regulator who booked, or the practice software that owns the slot.
TRANSITION_TAIL = written_with(
    events=f"""
        SELECT 'booking.' || w.status, r.recipient_client_id, p.territory_id,
               {EVENT_DATA} || jsonb_build_object('by', CAST(:who AS text))
        FROM written w CROSS JOIN place p
        {to_each("p.source_client_id", "w.regulator_client_id")}
    """,  # noqa: S608 (built from this module's constants only)
    audit="""
        SELECT :actor_id, :actor, CAST(:action AS text), 'booking', CAST(w.id AS text),
               p.territory_id, jsonb_build_object('status', w.status, 'slot_id', p.id)
        FROM written w CROSS JOIN place p
    """,
)

TRANSITION = text(
    f"""
    WITH mine AS (
        SELECT b.id, b.slot_id FROM bookings b JOIN slots s ON s.id = b.slot_id
        WHERE b.id = :booking_id AND b.status = :from_status
          AND CASE WHEN :who = 'regulator' THEN b.regulator_client_id = :actor_id
                   ELSE s.source_client_id = :actor_id END
    ), slot AS (
        UPDATE slots s SET status = COALESCE(CAST(:slot_status AS text), s.status),
                           version = s.version + 1, updated_at = statement_timestamp()
        FROM mine WHERE s.id = mine.slot_id AND s.status = 'booked'
        RETURNING {SLOT_COLUMNS}
    ), written AS (
        UPDATE bookings b SET status = :to_status, updated_at = statement_timestamp()
        FROM slot, mine WHERE b.id = mine.id AND b.status = :from_status
        RETURNING b.id, b.status, b.booked_at, b.updated_at, b.regulator_client_id
    ), place AS (
        SELECT slot.*, si.territory_id FROM slot JOIN sites si ON si.id = slot.site_id
    ), {TRANSITION_TAIL}
    SELECT {ANSWER} FROM place p LEFT JOIN written w ON true
    """  # noqa: S608 (built from this module's constants only)
)

READ = text(
    """
    SELECT p.id AS slot_id, p.external_id, p.start_at, p.end_at, p.modality, p.professional_id,
           p.site_id, p.source_client_id, si.territory_id,
           w.id, w.status, w.booked_at, w.updated_at, w.patient, w.regulator_client_id,
           w.expires_at, w.expires_at > statement_timestamp() AS live
    FROM bookings w JOIN slots p ON p.id = w.slot_id JOIN sites si ON si.id = p.site_id
    WHERE w.id = :booking_id
    """
)
