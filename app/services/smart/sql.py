"""The statements of the publication; `free` and `offered` come from `slots.rules` only."""

from sqlalchemy import text

from app.services.slots.rules import free, offered, professional_offered, site_offered

# The end of the publication window of a territory `t` at the instant `at`: the end of the day
# after tomorrow in its zone (a patient books today, tomorrow or the day after).
WINDOW_DAYS = 3


def window_end(at: str) -> str:
    return (
        f"((date_trunc('day', {at} AT TIME ZONE t.timezone) + interval '{WINDOW_DAYS} days')"
        " AT TIME ZONE t.timezone)"
    )


PUBLISHING = "t.active AND cardinality(t.smart_labels) > 0"

DEPARTEMENTS = text(
    f"SELECT DISTINCT t.departement FROM territories t WHERE {PUBLISHING} ORDER BY 1"  # noqa: S608
)

TERRITORIES = text(
    f"SELECT t.id FROM territories t WHERE t.departement = :departement AND {PUBLISHING}"  # noqa: S608
)

LOCATIONS = text(
    f"""
    SELECT si.id, si.name, si.address, si.postcode, coalesce(c.name, si.insee_code) AS city,
           si.lat, si.lon, t.departement, t.phone
    FROM territories t
    JOIN sites si ON si.territory_id = t.id
    LEFT JOIN communes c ON c.insee_code = si.insee_code
    WHERE t.id = ANY(CAST(:territories AS uuid[])) AND {site_offered("si", ":territories")}
    """  # noqa: S608 (fragments of slots.rules, constants only)
)

SCHEDULES = text(
    f"""
    SELECT sp.professional_id, sp.site_id, p.specialty
    FROM sites si
    JOIN site_professionals sp ON sp.site_id = si.id
    JOIN professionals p ON p.id = sp.professional_id
    WHERE si.territory_id = ANY(CAST(:territories AS uuid[]))
      AND {site_offered("si", ":territories")} AND {professional_offered("p")}
    """  # noqa: S608
)

_SLOT_COLUMNS = (
    "s.id, s.professional_id, s.site_id, s.start_at, s.end_at, s.booking_url, si.timezone, t.phone"
)

# The full file: free, offered, published labels, inside the window.
SLOTS = text(
    f"""
    SELECT {_SLOT_COLUMNS}, true AS is_free
    FROM territories t
    JOIN sites si ON si.territory_id = t.id
    JOIN slots s ON s.site_id = si.id
    WHERE t.id = ANY(CAST(:territories AS uuid[]))
      AND s.status IN ('free', 'held') AND s.start_at < {window_end("now()")}
      AND s.labels && t.smart_labels
      AND {free("s")} AND {offered("s", ":territories")}
    """  # noqa: S608
)

# Since `:since`: the slots of the window with a published label that changed (a write, a hold
# that lapsed, entering the window, an edit of their site or territory), free or not.
SLOTS_SINCE = text(
    f"""
    SELECT {_SLOT_COLUMNS}, ({free("s")} AND {offered("s", ":territories")}) AS is_free
    FROM territories t
    JOIN sites si ON si.territory_id = t.id
    JOIN slots s ON s.site_id = si.id
    WHERE t.id = ANY(CAST(:territories AS uuid[]))
      AND s.start_at > now() AND s.start_at < {window_end("now()")}
      AND s.labels && t.smart_labels
      AND (s.updated_at >= :since
           OR (s.status = 'held' AND s.hold_expires_at >= :since AND s.hold_expires_at < now())
           OR s.start_at >= {window_end("CAST(:since AS timestamptz)")}
           OR si.updated_at >= :since OR t.updated_at >= :since)
    """  # noqa: S608
)
