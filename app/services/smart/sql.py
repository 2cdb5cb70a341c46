"""The statements of the publication; `free` and `offered` come from `slots.rules` only."""

from sqlalchemy import text

from app.services.slots.rules import free, professional_offered, site_offered, source_offered

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


def local_instant(at: str, zone: str) -> str:
    """`at` as the spec's timestamp in `zone`: `2026-12-02T09:00:00+01:00` (what
    `services.fhir.resources.instant` writes; built here so that 400,000 slots cost no Python
    datetime work; tests/services/smart check that both agree)."""
    local = f"({at} AT TIME ZONE {zone})"
    offset = f"({local} - ({at} AT TIME ZONE 'UTC'))"
    return (
        f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN {offset} < interval '0' THEN '-' ELSE '+' END"
        f" || to_char(CASE WHEN {offset} < interval '0' THEN -{offset} ELSE {offset} END,"
        " 'HH24:MI')"
    )


_SLOT_COLUMNS = f"""s.id::text, s.professional_id, s.site_id,
    {local_instant("s.start_at", "si.timezone")}, {local_instant("s.end_at", "si.timezone")},
    s.booking_url, t.phone"""

# Offered (`slots.rules`): the site, its territory, the professional and the source are active.
_OFFERED = f"""{site_offered("si", ":territories")} AND {professional_offered("p")}
      AND {source_offered("s")}"""

_FROM = """FROM territories t
    JOIN sites si ON si.territory_id = t.id
    JOIN slots s ON s.site_id = si.id
    JOIN professionals p ON p.id = s.professional_id"""

# The full file: free, offered, published labels, inside the window.
SLOTS = text(
    f"""
    SELECT {_SLOT_COLUMNS}, true AS is_free
    {_FROM}
    WHERE t.id = ANY(CAST(:territories AS uuid[]))
      AND s.status IN ('free', 'held') AND s.start_at < {window_end("now()")}
      AND s.labels && t.smart_labels
      AND {free("s")} AND {_OFFERED}
    """  # noqa: S608
)

# Since `:since`: the slots of the window with a published label that changed (a write, a hold
# that lapsed, entering the window, an edit of their site or territory), free or not.
SLOTS_SINCE = text(
    f"""
    SELECT {_SLOT_COLUMNS}, ({free("s")} AND {_OFFERED}) AS is_free
    {_FROM}
    WHERE t.id = ANY(CAST(:territories AS uuid[]))
      AND s.start_at > now() AND s.start_at < {window_end("now()")}
      AND s.labels && t.smart_labels
      AND (s.updated_at >= :since
           OR (s.status = 'held' AND s.hold_expires_at >= :since AND s.hold_expires_at < now())
           OR s.start_at >= {window_end("CAST(:since AS timestamptz)")}
           OR si.updated_at >= :since OR t.updated_at >= :since)
    """  # noqa: S608
)
