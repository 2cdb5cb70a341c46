"""The indicators' statements: one per figure family, each a range of one territory.

Every statement takes `:territory_id`, `:tz` (the territory's zone) and the period's bounds
`:start`, `:end` (instants: the first day's midnight and the day after the last one's, in that
zone). Each range walks an index of migration 0013 (or older), so the cost follows the
territory's own volume, not the whole service's:
- slots: `sites` of the territory → `ix_slots_site_start`;
- searches: `ix_audit_events_search_territory` (regulators of one territory), and the GIN
  `ix_audit_events_search_territories` (the others' searches list their territories);
- holds and bookings: `ix_bookings_territory_created_at`, `ix_bookings_territory_booked_at`;
- majoration: the territory's booked slots by start, each booking by `uq_bookings_active_slot`;
- en-sus: `ix_en_sus_requests_territory_created_at`.
"""

from sqlalchemy import text

# The ISO week of an instant in the territory's zone, e.g. 2026-W43.
_WEEK = "to_char({at} AT TIME ZONE CAST(:tz AS text), 'IYYY-\"W\"IW')"
_SECONDS = "EXTRACT(EPOCH FROM s.end_at - s.start_at)"
# From the search to the consultation: the search the hold quoted, else the hold itself.
_DELAY = "(s.start_at - coalesce(b.searched_at, b.created_at))"
WITHIN_48H = f"{_DELAY} <= interval '48 hours'"

# A slot with no label counts once, under no label (NULL).
SLOTS = text(
    f"""
    SELECT {_WEEK.format(at="s.start_at")} AS week, s.professional_id, s.modality, l.label,
           count(*) AS slots, sum({_SECONDS}) AS seconds
    FROM sites si
    JOIN slots s ON s.site_id = si.id
    LEFT JOIN LATERAL unnest(s.labels) AS l(label) ON true
    WHERE si.territory_id = :territory_id
      AND s.start_at >= :start AND s.start_at < :end
      AND s.status <> 'cancelled'
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    """  # noqa: S608 (constants of this module only)
)

SLOT_TOTALS = text(
    f"""
    SELECT count(*) AS slots, coalesce(sum({_SECONDS}), 0) AS seconds
    FROM sites si JOIN slots s ON s.site_id = si.id
    WHERE si.territory_id = :territory_id
      AND s.start_at >= :start AND s.start_at < :end
      AND s.status <> 'cancelled'
    """  # noqa: S608 (constants of this module only)
)

SEARCHES = text(
    """
    SELECT count(*) AS searches,
           count(*) FILTER (WHERE (a.detail ->> 'candidates') = '0') AS without_candidate
    FROM (
        SELECT detail FROM audit_events
        WHERE action = 'search.run' AND territory_id = :territory_id
          AND occurred_at >= :start AND occurred_at < :end
        UNION ALL
        SELECT detail FROM audit_events
        WHERE action = 'search.run' AND territory_id IS NULL
          AND detail -> 'territory_ids' @> jsonb_build_array(CAST(:territory_id AS text))
          AND occurred_at >= :start AND occurred_at < :end
    ) AS a
    """
)

HOLDS = text(
    """
    SELECT count(*) FROM bookings
    WHERE territory_id = :territory_id AND created_at >= :start AND created_at < :end
    """
)

BOOKINGS = text(
    f"""
    SELECT count(*) AS bookings,
           count(*) FILTER (WHERE b.status = 'cancelled') AS cancellations,
           count(*) FILTER (WHERE b.status = 'fulfilled') AS fulfilled,
           count(*) FILTER (WHERE b.status = 'noshow') AS noshow,
           count(*) FILTER (WHERE {WITHIN_48H}) AS within_48h,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY b.search_distance_m) AS median_distance_m,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM {_DELAY}))
               AS median_delay_s
    FROM bookings b JOIN slots s ON s.id = b.slot_id
    WHERE b.territory_id = :territory_id
      AND b.booked_at >= :start AND b.booked_at < :end
    """  # noqa: S608 (constants of this module only)
)

# A booked consultation keeps its slot `booked` (fulfilled and no-show too; a cancellation
# frees or cancels the slot), so the territory's booked slots by start find them all.
MAJORATION = text(
    f"""
    SELECT s.professional_id, {_WEEK.format(at="s.start_at")} AS week, count(*) AS consultations
    FROM sites si
    JOIN slots s ON s.site_id = si.id
    JOIN bookings b ON b.slot_id = s.id AND b.status IN ('booked', 'fulfilled', 'noshow')
    WHERE si.territory_id = :territory_id
      AND s.start_at >= :start AND s.start_at < :end
      AND s.status = 'booked'
      AND b.status IN ('booked', 'fulfilled')
      AND {WITHIN_48H}
      AND b.medecin_traitant_booked IS NOT TRUE
    GROUP BY 1, 2
    """  # noqa: S608 (constants of this module only)
)

# The territory's professionals: those working at its sites, and any other with slots there.
PROFESSIONALS = text(
    """
    SELECT p.id, p.rpps, p.family_name, p.given_name, p.weekly_snp_cap
    FROM professionals p
    WHERE (p.active AND EXISTS (
              SELECT 1 FROM site_professionals sp JOIN sites si ON si.id = sp.site_id
              WHERE sp.professional_id = p.id AND si.territory_id = :territory_id))
       OR p.id = ANY(CAST(:with_activity AS uuid[]))
    ORDER BY p.family_name, p.given_name, p.rpps
    """
)

EN_SUS = text(
    """
    SELECT count(*) AS opened,
           count(*) FILTER (WHERE status = 'accepted') AS accepted,
           count(*) FILTER (WHERE status = 'expired') AS expired
    FROM en_sus_requests
    WHERE territory_id = :territory_id AND created_at >= :start AND created_at < :end
    """
)
