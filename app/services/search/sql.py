"""The one statement that finds and ranks free slots near a patient (rules: `search.service`).

The rule it keeps over the whole radius: the médecin traitant's slots (group 0), then every SAS
participant's (group 1), then the others (group 2), inside a group by score; a site offers at
most `per_site` slots, its best by that same order. Nothing is cut before it is ranked; the work
is bounded by the best score a site can still reach instead:

1. `mt`: the médecin traitant's slots, by professional (the exclusion constraint's GiST index).
2. `near`, an estimate: the regulator's sites nearest first by KNN (`<->` on the sites' GiST
   index, at most `site_cap` of them), each giving its earliest eligible slots through
   `ix_slots_site_open_start`, until `row_cap` rows. These are real candidates, so the
   `limit`-th best of them, `bound.key` (group × 10⁶ + score), is no better than the true
   `limit`-th best: a slot ranked after it cannot be in the answer. The site and row caps only
   loosen this bound (more sites probed below), never change the answer.
3. Exact, every site that may hold a slot ranked before the bound, each giving its best
   `per_site` slots by (group, score) among those starting by `bound.start_cap`. When the bound
   is a participant's score s (group 1 fills the answer), a slot must start within s minutes,
   and an in-person slot at distance d scores at least 2·d/speed + margin (it starts after the
   patient could arrive): `within` probes the sites inside that reach (`bound.reach_m`, a GiST
   box); `beyond`, when teleconsultation (VR, no distance) is asked, probes every other site of
   the regulator's territories for its teleconsultations only. When the bound is a
   non-participant's score (or unknown: fewer rows than `limit`), every participant's slot in
   the radius must be seen: the reach is the whole radius.
The radius is the smallest step (base, then enlargements) holding `enough` candidates, else the
largest, chosen from `mt` and `near` (nearest first: exact for in-person slots). Everything
that depends on the site only (distance, reachability, the default window end in the site's
zone) is computed once per site, so a probe compares plain values.
"""

from sqlalchemy import text

from app.services.outbox.tail import written_with
from app.services.slots.rules import free, professional_offered, site_offered, source_offered

_HERE = "ll_to_earth(CAST(:lat AS float8), CAST(:lon AS float8))"
_NOW = "CAST(:now AS timestamptz)"
_MPM = "CAST(:metres_per_minute AS float8)"
# Groups apart in one number: a score (minutes, at most 72 h plus travel) stays under 10⁶.
_KEY = "(grp * 1000000.0 + score)"
# The great-circle distance on earthdistance's sphere (radius earth() = 6,378,168 m), by the
# haversine formula in built-in arithmetic: the extension's SQL functions (ll_to_earth,
# earth_distance) cost ~15–25 µs a call through a prepared statement, more than the whole probe
# of a site. The index walks themselves still use the extension (`<->`, `earth_box`).
_DISTANCE_M = """(12756336.0 * asin(sqrt(
    sin(radians(si.lat - CAST(:lat AS float8)) / 2) ^ 2
    + cos(radians(CAST(:lat AS float8))) * cos(radians(si.lat))
      * sin(radians(si.lon - CAST(:lon AS float8)) / 2) ^ 2)))"""


def _window_end(site: str) -> str:
    """The window's end at a site: the one asked, else the end of the day after tomorrow there."""
    return f"""(CASE WHEN CAST(:explicit_end AS boolean) THEN CAST(:window_end AS timestamptz)
         ELSE least(CAST(:window_end AS timestamptz),
                    (date_trunc('day', {_NOW} AT TIME ZONE {site}.timezone) + interval '3 days')
                    AT TIME ZONE {site}.timezone)
    END)"""


def _site_columns(radius_m: str) -> str:
    """What a probe needs of a site, computed once per site rather than once per slot row."""
    return f"""
    si.id, si.name, si.address, si.postcode, si.territory_id, si.lat, si.lon,
    {_DISTANCE_M} AS distance_m,
    {_DISTANCE_M} <= {radius_m} AS in_radius,
    {_NOW} + make_interval(
        secs => {_DISTANCE_M} / {_MPM} * 60.0 + CAST(:margin_seconds AS float8)
    ) AS reachable_from,
    {_window_end("si")} AS window_end"""


# Free (the shared rule, at the search's time), starting in the window, of a modality asked.
_OPEN_IN_WINDOW = f"""
        {free("s", _NOW)}
    AND {source_offered("s")}
    AND s.start_at >= CAST(:window_start AS timestamptz)
    AND s.start_at < si.window_end
    AND s.modality = ANY(CAST(:modalities AS text[]))
"""

_SITE_FITS = f"""{site_offered("si", ":territory_ids")}
    AND (NOT CAST(:accessible AS boolean) OR si.accessible)"""

_PROFESSIONAL_FITS = f"""
        {professional_offered("p")}
    AND (CAST(:specialty AS text) IS NULL OR p.specialty = CAST(:specialty AS text))
    AND (CAST(:languages AS text[]) IS NULL OR p.languages && CAST(:languages AS text[]))
"""

# Teleconsultation goes anywhere; in person: inside the radius, and reachable before it starts.
_REACHABLE = "(s.modality = 'VR' OR (si.in_radius AND s.start_at >= si.reachable_from))"

_SCORE = f"""EXTRACT(EPOCH FROM s.start_at - {_NOW}) / 60.0
      + CASE WHEN s.modality = 'VR' THEN 0 ELSE si.distance_m / {_MPM} END"""

# A site's eligible slots of groups 1 and 2 (the médecin traitant's are group 0, found apart).
_PROBE = f"""
    SELECT CASE WHEN p.sas_participant THEN 1 ELSE 2 END AS grp, {_SCORE} AS score,
           s.id AS slot_id, s.start_at, s.end_at, s.modality,
           p.id AS professional_id, p.rpps, p.family_name, p.given_name
    FROM slots s
    JOIN professionals p ON p.id = s.professional_id
    WHERE s.site_id = si.id
      AND {_OPEN_IN_WINDOW}
      AND {_PROFESSIONAL_FITS}
      AND p.rpps IS DISTINCT FROM CAST(:mt_rpps AS text)
      AND {_REACHABLE}
"""  # noqa: S608

_COLUMNS = """
    r.grp, r.score, r.slot_id, r.start_at, r.end_at, r.modality, si.distance_m,
    r.professional_id, r.rpps, r.family_name, r.given_name,
    si.id AS site_id, si.name AS site_name, si.address, si.postcode, si.territory_id,
    si.lat AS site_lat, si.lon AS site_lon"""

# Composed from the constant fragments above only; every value is a bind parameter.
_RANKED = f"""
    WITH mt AS MATERIALIZED (
        SELECT {_COLUMNS}
        FROM professionals p
        JOIN slots s ON s.professional_id = p.id
        CROSS JOIN LATERAL (
            SELECT {_site_columns("CAST(:radius_m AS float8)")}
            FROM sites si WHERE si.id = s.site_id AND {_SITE_FITS}
        ) AS si
        CROSS JOIN LATERAL (
            SELECT 0 AS grp, {_SCORE} AS score, s.id AS slot_id, s.start_at, s.end_at,
                   s.modality, p.id AS professional_id, p.rpps, p.family_name, p.given_name
        ) AS r
        WHERE p.rpps = CAST(:mt_rpps AS text)
          AND s.status <> 'cancelled'
          AND {_OPEN_IN_WINDOW}
          AND {_PROFESSIONAL_FITS}
          AND {_REACHABLE}
    ),
    near AS MATERIALIZED (
        SELECT s.grp, s.score, s.modality, si.distance_m
        FROM (
            SELECT {_site_columns("CAST(:radius_m AS float8)")},
                   ll_to_earth(si.lat, si.lon) <-> {_HERE} AS knn
            FROM sites si
            WHERE {_SITE_FITS}
              AND ('VR' = ANY(CAST(:modalities AS text[]))
                   OR earth_box({_HERE}, CAST(:radius_m AS float8)) @> ll_to_earth(si.lat, si.lon))
            ORDER BY knn
            LIMIT :site_cap
        ) AS si
        CROSS JOIN LATERAL ({_PROBE} ORDER BY s.start_at LIMIT :per_site) AS s
        -- Nearest sites first, and stop once enough rows are found (no sort).
        ORDER BY si.knn
        LIMIT :row_cap
    ),
    chosen AS (
        SELECT coalesce(
            (SELECT min(r) FROM unnest(CAST(:radii_m AS float8[])) AS r
             WHERE (SELECT count(*) FROM (SELECT modality, distance_m FROM mt
                                          UNION ALL SELECT modality, distance_m FROM near) AS c
                    WHERE c.modality = 'VR' OR c.distance_m <= r) >= CAST(:enough AS int)),
            (SELECT max(r) FROM unnest(CAST(:radii_m AS float8[])) AS r)
        ) AS radius_m
    ),
    kth AS MATERIALIZED (
        SELECT coalesce((SELECT {_KEY} FROM near, chosen
                         WHERE near.modality = 'VR' OR near.distance_m <= chosen.radius_m
                         ORDER BY 1 OFFSET CAST(:limit AS int) - 1 LIMIT 1),
                        CAST('Infinity' AS float8)) AS key
    ),
    bound AS MATERIALIZED (
        SELECT kth.key, chosen.radius_m,
               -- A second and a metre of slack: the bound's own rows are always probed.
               CASE WHEN kth.key < 2000000.0
                    THEN {_NOW} + make_interval(secs => (kth.key - 1000000.0) * 60.0 + 1.0)
                    ELSE CAST('infinity' AS timestamptz) END AS start_cap,
               CASE WHEN kth.key < 2000000.0
                    THEN least(chosen.radius_m, 1.0 + greatest(0.0, kth.key - 1000000.0
                               - CAST(:margin_seconds AS float8) / 60.0) * {_MPM} / 2.0)
                    ELSE chosen.radius_m END AS reach_m
        FROM kth, chosen
    ),
    -- The sites within the in-person reach: their best slots of every modality asked.
    within AS (
        SELECT {_COLUMNS}
        FROM (
            SELECT {_site_columns("(SELECT radius_m FROM bound)")}
            FROM sites si
            WHERE {_SITE_FITS}
              AND earth_box({_HERE}, (SELECT reach_m FROM bound) + 1.0)
                  @> ll_to_earth(si.lat, si.lon)
              AND {_DISTANCE_M} <= (SELECT reach_m FROM bound)
        ) AS si
        CROSS JOIN LATERAL (
            {_PROBE} AND s.start_at <= (SELECT start_cap FROM bound)
            ORDER BY grp, score, s.start_at, s.id
            LIMIT :per_site
        ) AS r
    ),
    -- Beyond it, when teleconsultation is asked: every other site's best teleconsultations.
    beyond AS (
        SELECT {_COLUMNS}
        FROM (
            SELECT si.*, {_DISTANCE_M} AS distance_m
            FROM sites si
            WHERE 'VR' = ANY(CAST(:modalities AS text[]))
              AND {_SITE_FITS}
              AND {_DISTANCE_M} > (SELECT reach_m FROM bound)
        ) AS si
        CROSS JOIN LATERAL (
            SELECT CASE WHEN p.sas_participant THEN 1 ELSE 2 END AS grp,
                   EXTRACT(EPOCH FROM s.start_at - {_NOW}) / 60.0 AS score,
                   s.id AS slot_id, s.start_at, s.end_at, s.modality,
                   p.id AS professional_id, p.rpps, p.family_name, p.given_name
            FROM slots s
            JOIN professionals p ON p.id = s.professional_id
            WHERE s.site_id = si.id
              AND {free("s", _NOW)}
              AND s.start_at >= CAST(:window_start AS timestamptz)
              AND s.start_at < CAST(:window_end AS timestamptz)
              AND s.start_at <= (SELECT start_cap FROM bound)
              AND s.modality = 'VR'
              AND s.start_at < {_window_end("si")}
              AND {_PROFESSIONAL_FITS}
              AND p.rpps IS DISTINCT FROM CAST(:mt_rpps AS text)
            ORDER BY grp, s.start_at, s.id
            LIMIT :per_site
        ) AS r
    ),
    found AS MATERIALIZED (
        SELECT c.*, bound.radius_m AS chosen_radius_m
        FROM (SELECT * FROM mt UNION ALL SELECT * FROM within UNION ALL SELECT * FROM beyond) AS c,
             bound
        WHERE c.modality = 'VR' OR c.distance_m <= bound.radius_m
        ORDER BY grp, score, start_at, slot_id
        LIMIT :limit
    )
"""  # noqa: S608

# The ranked slots alone (the search's query when an OSRM filter runs after it).
RANKED_SLOTS_SQL = text(
    _RANKED + "SELECT * FROM found ORDER BY grp, score, start_at, slot_id"  # noqa: S608
)

# The ranked slots and their audit event in one statement: with the connection in autocommit,
# a whole search is one round trip.
_SEARCH_AUDIT = """
    SELECT CAST(:actor_id AS uuid), CAST(:actor AS text), 'search.run', 'search', NULL,
           CAST(:audit_territory_id AS uuid),
           CAST(:audit_detail AS jsonb) || jsonb_build_object(
               'candidates', (SELECT count(*) FROM found),
               'radius_km', chosen.radius_m / 1000.0,
               'enlarged', chosen.radius_m > CAST(:base_radius_m AS float8))
    FROM chosen
"""
_AUDITED = f"""
    , {written_with(audit=_SEARCH_AUDIT)}
    SELECT * FROM found ORDER BY grp, score, start_at, slot_id
"""  # noqa: S608
SEARCH_SQL = text(_RANKED + _AUDITED)
