"""The one statement that finds and ranks free slots near a patient (rules: `search.service`).

Two branches under one ORDER BY … LIMIT:
- the médecin traitant's slots (group 0), found by professional through the exclusion
  constraint's GiST index (professional_id, time range);
- the other slots, site by site: the regulator's active sites are walked nearest first by KNN
  (`<->`) on the sites' GiST index, at most `site_cap` of them (bounded by the radius too when
  no teleconsultation is asked for), and each site gives its `per_site` earliest eligible slots
  through `ix_slots_site_open_start` (a LATERAL probe: a few index entries a site). The work is
  bounded by `site_cap` probes whatever the data, and an empty window costs `site_cap` empty
  probes, not a walk of every slot. A site's earliest slots are its best ones (same distance),
  so ranking the probes' rows ranks the best slots of every walked site.
Groups 1 and 2 are SAS participants and the others. Inside a group the score is the minutes until
the slot starts plus, except for teleconsultation (VR), the minutes of travel at the assumed
speed. In-person slots must lie inside the radius and start after the patient could arrive.
Everything that depends on the site only (distance, reachability, the default window end in the
site's zone) is computed once per site, so a probe compares plain values.
"""

from sqlalchemy import text

from app.services.outbox.tail import written_with
from app.services.slots.rules import free, professional_offered, site_offered, source_offered

_HERE = "ll_to_earth(CAST(:lat AS float8), CAST(:lon AS float8))"
_NOW = "CAST(:now AS timestamptz)"
_MPM = "CAST(:metres_per_minute AS float8)"
# The great-circle distance on earthdistance's sphere (radius earth() = 6,378,168 m), by the
# haversine formula in built-in arithmetic: the extension's SQL functions (ll_to_earth,
# earth_distance) cost ~15–25 µs a call through a prepared statement, more than the whole probe
# of a site. The index walk itself still uses the extension (`<->` on ll_to_earth).
_DISTANCE_M = """(12756336.0 * asin(sqrt(
    sin(radians(si.lat - CAST(:lat AS float8)) / 2) ^ 2
    + cos(radians(CAST(:lat AS float8))) * cos(radians(si.lat))
      * sin(radians(si.lon - CAST(:lon AS float8)) / 2) ^ 2)))"""

# What a probe needs of a site, computed once per site rather than once per slot row.
_SITE_COLUMNS = f"""
    si.id, si.name, si.address, si.postcode, si.territory_id, si.lat, si.lon,
    {_DISTANCE_M} AS distance_m,
    {_DISTANCE_M} <= CAST(:radius_m AS float8) AS in_radius,
    {_NOW} + make_interval(
        secs => {_DISTANCE_M} / {_MPM} * 60.0 + CAST(:margin_seconds AS float8)
    ) AS reachable_from,
    CASE WHEN CAST(:explicit_end AS boolean) THEN CAST(:window_end AS timestamptz)
         ELSE least(CAST(:window_end AS timestamptz),
                    (date_trunc('day', {_NOW} AT TIME ZONE si.timezone) + interval '3 days')
                    AT TIME ZONE si.timezone)
    END AS window_end
"""

# Free (the shared rule, at the search's time) and starting in the window.
_OPEN_IN_WINDOW = f"""
        {free("s", _NOW)}
    AND {source_offered("s")}
    AND s.start_at >= CAST(:window_start AS timestamptz)
    AND s.start_at < si.window_end
    AND s.modality = ANY(CAST(:modalities AS text[]))
"""

_SITE_OFFERED = site_offered("si", ":territory_ids")

_PROFESSIONAL_FITS = f"""
        {professional_offered("p")}
    AND (CAST(:specialty AS text) IS NULL OR p.specialty = CAST(:specialty AS text))
    AND (CAST(:languages AS text[]) IS NULL OR p.languages && CAST(:languages AS text[]))
"""

# Teleconsultation goes anywhere; in person: inside the radius, and reachable before it starts.
_REACHABLE = "(s.modality = 'VR' OR (si.in_radius AND s.start_at >= si.reachable_from))"

_COLUMNS = f"""
    s.id AS slot_id, s.start_at, s.end_at, s.modality, si.distance_m,
    p.id AS professional_id, p.rpps, p.family_name, p.given_name,
    si.id AS site_id, si.name AS site_name, si.address, si.postcode, si.territory_id,
    si.lat AS site_lat, si.lon AS site_lon,
    EXTRACT(EPOCH FROM s.start_at - {_NOW}) / 60.0
      + CASE WHEN s.modality = 'VR' THEN 0 ELSE si.distance_m / {_MPM} END AS score
"""

# Composed from the constant fragments above only; every value is a bind parameter.
# Every eligible slot of the walked sites within the largest radius the search may use.
_POOL = f"""
        SELECT 0 AS grp, {_COLUMNS}
        FROM professionals p
        JOIN slots s ON s.professional_id = p.id
        CROSS JOIN LATERAL (
            SELECT {_SITE_COLUMNS} FROM sites si
            WHERE si.id = s.site_id
              AND {_SITE_OFFERED}
              AND (NOT CAST(:accessible AS boolean) OR si.accessible)
        ) AS si
        WHERE p.rpps = CAST(:mt_rpps AS text)
          AND s.status <> 'cancelled'
          AND {_OPEN_IN_WINDOW}
          AND {_PROFESSIONAL_FITS}
          AND {_REACHABLE}
      UNION ALL
        SELECT CASE WHEN p.sas_participant THEN 1 ELSE 2 END AS grp, {_COLUMNS}
        FROM (
            SELECT si.*, s.*
            FROM (
                SELECT {_SITE_COLUMNS}, ll_to_earth(si.lat, si.lon) <-> {_HERE} AS knn
                FROM sites si
                WHERE {_SITE_OFFERED}
                  AND (NOT CAST(:accessible AS boolean) OR si.accessible)
                  AND ('VR' = ANY(CAST(:modalities AS text[]))
                       OR earth_box({_HERE}, CAST(:radius_m AS float8))
                          @> ll_to_earth(si.lat, si.lon))
                ORDER BY knn
                LIMIT :site_cap
            ) AS si
            CROSS JOIN LATERAL (
                SELECT s.id AS slot_id_, s.start_at, s.end_at, s.modality, s.professional_id
                FROM slots s
                JOIN professionals p ON p.id = s.professional_id
                WHERE s.site_id = si.id
                  AND {_OPEN_IN_WINDOW}
                  AND {_PROFESSIONAL_FITS}
                  AND p.rpps IS DISTINCT FROM CAST(:mt_rpps AS text)
                  AND {_REACHABLE}
                ORDER BY s.start_at
                LIMIT :per_site
            ) AS s
            -- Nearest sites first, and stop once enough rows are found: the walk reads only
            -- the sites it needs (the KNN order survives the nested loop, no sort).
            ORDER BY si.knn
            LIMIT :row_cap
        ) AS si
        JOIN professionals p ON p.id = si.professional_id
        CROSS JOIN LATERAL (SELECT si.slot_id_ AS id, si.start_at, si.end_at, si.modality) AS s
"""  # noqa: S608

# The radius is the smallest of the steps (base, then enlargements) that holds `enough`
# candidates, else the largest: chosen in the statement, so an enlarged search is still one
# statement (the pool over the largest radius holds every smaller one's rows, nearest first).
_RANKED = f"""
    WITH pool AS MATERIALIZED ({_POOL}),
    chosen AS (
        SELECT coalesce(
            (SELECT min(r) FROM unnest(CAST(:radii_m AS float8[])) AS r
             WHERE (SELECT count(*) FROM pool
                    WHERE pool.modality = 'VR' OR pool.distance_m <= r) >= CAST(:enough AS int)),
            (SELECT max(r) FROM unnest(CAST(:radii_m AS float8[])) AS r)
        ) AS radius_m
    ),
    found AS MATERIALIZED (
        SELECT pool.*, chosen.radius_m AS chosen_radius_m
        FROM pool, chosen
        WHERE pool.modality = 'VR' OR pool.distance_m <= chosen.radius_m
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
