"""The one statement that finds and ranks free slots near a patient (see services/search.py).

Three branches under one ORDER BY … LIMIT:
- the médecin traitant's slots (group 0), found by professional through the exclusion
  constraint's GiST index (professional_id, time range);
- slots seen in person (AMB, HH), walked nearest first by KNN (`<->`) on the GiST index
  `ix_slots_open_earth_time` (location and time together, partial on open slots), bounded by
  `earth_box` and the exact `earth_distance`; at most `scan_cap` rows are ranked;
- teleconsultations (VR), earliest first, site by site of the territories through
  `ix_slots_site_open_start`: distance plays no part.
Groups 1 and 2 are SAS participants and the others. Inside a group the score is the minutes until
the slot starts plus, except for VR, the minutes of travel at the assumed speed.
"""

from sqlalchemy import text

_HERE = "ll_to_earth(CAST(:lat AS float8), CAST(:lon AS float8))"
_THERE = "ll_to_earth(s.lat, s.lon)"
_DISTANCE_M = f"earth_distance({_HERE}, {_THERE})"
_NOW = "CAST(:now AS timestamptz)"

_COLUMNS = f"""
    s.id AS slot_id, s.start_at, s.end_at, s.modality,
    {_DISTANCE_M} AS distance_m,
    p.id AS professional_id, p.rpps, p.family_name, p.given_name,
    si.id AS site_id, si.name AS site_name, si.address, si.postcode, si.territory_id,
    si.lat AS site_lat, si.lon AS site_lon,
    EXTRACT(EPOCH FROM s.start_at - {_NOW}) / 60.0
      + CASE WHEN s.modality = 'VR' THEN 0
             ELSE {_DISTANCE_M} / CAST(:metres_per_minute AS float8) END AS score
"""

_FROM = """
    FROM slots s
    JOIN professionals p ON p.id = s.professional_id
    JOIN sites si ON si.id = s.site_id
"""

# Free, or held by a hold that has expired (free again at once for searches).
_ELIGIBLE = f"""
        s.status IN ('free', 'held')
    AND (s.status = 'free' OR s.hold_expires_at < {_NOW})
    AND tstzrange(s.start_at, s.end_at)
        && tstzrange(CAST(:window_start AS timestamptz), CAST(:window_end AS timestamptz))
    AND s.start_at >= CAST(:window_start AS timestamptz)
    AND s.start_at < CAST(:window_end AS timestamptz)
    AND (CAST(:explicit_end AS boolean)
         OR s.start_at < (date_trunc('day', {_NOW} AT TIME ZONE si.timezone) + interval '3 days')
                         AT TIME ZONE si.timezone)
    AND s.modality = ANY(CAST(:modalities AS text[]))
    AND p.active AND si.active
    AND si.territory_id = ANY(CAST(:territory_ids AS uuid[]))
    AND (NOT CAST(:accessible AS boolean) OR si.accessible)
    AND (CAST(:specialty AS text) IS NULL OR p.specialty = CAST(:specialty AS text))
    AND (CAST(:languages AS text[]) IS NULL OR p.languages && CAST(:languages AS text[]))
"""

# In person: within the radius, and the patient can get there before it starts.
_IN_REACH = f"""
        {_DISTANCE_M} <= CAST(:radius_m AS float8)
    AND s.start_at >= {_NOW} + make_interval(
            secs => {_DISTANCE_M} / CAST(:metres_per_minute AS float8) * 60.0
                    + CAST(:margin_seconds AS float8))
"""

_NOT_MEDECIN_TRAITANT = "p.rpps IS DISTINCT FROM CAST(:mt_rpps AS text)"
_GROUP = "CASE WHEN p.sas_participant THEN 1 ELSE 2 END"

# Composed from the constant fragments above only; every value is a bind parameter.
SEARCH_SQL = text(
    f"""
    SELECT * FROM (
        SELECT 0 AS grp, {_COLUMNS} {_FROM}
        WHERE p.rpps = CAST(:mt_rpps AS text)
          AND s.status <> 'cancelled'
          AND {_ELIGIBLE}
          AND (s.modality = 'VR' OR ({_IN_REACH}))
      UNION ALL
        (SELECT {_GROUP} AS grp, {_COLUMNS} {_FROM}
         WHERE s.modality <> 'VR'
           AND earth_box({_HERE}, CAST(:radius_m AS float8)) @> {_THERE}
           AND {_ELIGIBLE}
           AND {_IN_REACH}
           AND {_NOT_MEDECIN_TRAITANT}
         ORDER BY {_THERE} <-> {_HERE}
         LIMIT :scan_cap)
      UNION ALL
        (SELECT {_GROUP} AS grp, {_COLUMNS}
         FROM sites si
         CROSS JOIN LATERAL (
             SELECT * FROM slots s
             WHERE s.site_id = si.id
               AND s.status IN ('free', 'held')
               AND s.start_at >= CAST(:window_start AS timestamptz)
               AND s.start_at < CAST(:window_end AS timestamptz)
               AND s.modality = 'VR'
             ORDER BY s.start_at
             LIMIT :scan_cap
         ) AS s
         JOIN professionals p ON p.id = s.professional_id
         WHERE 'VR' = ANY(CAST(:modalities AS text[]))
           AND si.territory_id = ANY(CAST(:territory_ids AS uuid[]))
           AND {_ELIGIBLE}
           AND {_NOT_MEDECIN_TRAITANT}
         ORDER BY s.start_at
         LIMIT :scan_cap)
    ) AS found
    ORDER BY grp, score, start_at, slot_id
    LIMIT :limit
    """  # noqa: S608
)
